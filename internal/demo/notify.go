package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/webhook"
)

// demoToken is the demo Receiver's webhook secret.
const demoToken = "demo-webhook-token"

// alertSink is a local HTTP server standing in for a chat webhook: it prints every alert.
type alertSink struct {
	*httptest.Server
	mu  sync.Mutex
	out io.Writer
	n   int
}

func newAlertSink(out io.Writer) *alertSink {
	s := &alertSink{out: out}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			InvolvedObject corev1.ObjectReference `json:"involvedObject"`
			Severity       string                 `json:"severity"`
			Message        string                 `json:"message"`
			Metadata       map[string]string      `json:"metadata"`
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if json.Unmarshal(body, &e) == nil {
			msg := strings.SplitN(e.Message, "\n", 2)[0]
			s.mu.Lock()
			s.n++
			fmt.Fprintf(s.out, "  🔔 alert (%s) %s/%s: %s [revision %s]\n", e.Severity, e.InvolvedObject.Kind, e.InvolvedObject.Name, msg, e.Metadata["revision"])
			s.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	return s
}

func (s *alertSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// webhookPush shows notifications: an Alert sending Kustomization events to a generic
// Provider (a local HTTP server printing them), and a GitHub Receiver in front of the
// GitRepository; a commit is pushed and announced by a signed GitHub push event, and the
// change is applied well before the GitRepository's interval.
func (s *site) webhookPush(ctx context.Context, out io.Writer, weir func(...string) error, timeout time.Duration) error {
	sink := newAlertSink(out)
	defer sink.Close()
	fmt.Fprintf(out, "\n► notifications: an Alert to a webhook at %s, and a GitHub Receiver in front of the GitRepository\n", sink.URL)
	c := s.env.Client
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "webhook-token"}, StringData: map[string]string{"token": demoToken}}
	if err := c.Create(ctx, secret); err != nil {
		return err
	}
	steps := [][]string{
		{"create", "alert-provider", "demo-webhook", "-n", "flux-system", "--type", "generic", "--address", sink.URL},
		{"create", "alert", "deploys", "-n", "flux-system", "--provider-ref", "demo-webhook", "--event-source", "Kustomization/*", "--event-severity", "info"},
		{"create", "receiver", "github", "-n", "flux-system", "--type", "github", "--event", "ping", "--event", "push",
			"--secret-ref", "webhook-token", "--resource", "GitRepository/flux-system"},
	}
	for _, st := range steps {
		fmt.Fprintf(out, "$ weir %s\n", strings.Join(st, " "))
		if err := weir(st...); err != nil {
			return err
		}
	}
	path, err := waitWebhookPath(ctx, c, timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "✔ Receiver github Ready: webhook path %s\n", path)

	fmt.Fprintln(out, "\n► pushing a commit that changes the cluster domain (a substituted value), announced by a signed GitHub push event")
	s.files["clusters/mycluster-0/cluster-vars-configmap.yaml"] = strings.Replace(
		s.files["clusters/mycluster-0/cluster-vars-configmap.yaml"], "priv.cloud.ogenki.io", "demo.example.org", 1)
	var head string
	if err := s.t.Do(func() { head = s.repo.Commit("main", "move the cluster domain", s.files) }); err != nil {
		return err
	}
	pushed := time.Now()
	code, err := webhook.GitHub(ctx, "http://"+s.receiverAddr+path, demoToken, "push", head,
		webhook.GitHubPushBody("refs/heads/main", head, "demo/platform"))
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("the webhook answered %d", code)
	}
	deadline := time.Now().Add(timeout)
	for {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKey{Namespace: "infrastructure", Name: "platform-tailscale-general"}, &cm); err == nil &&
			cm.Data["hostname"] == "*.demo.example.org" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the pushed change was not applied in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "✔ commit %s applied %s after the webhook (ConfigMap infrastructure/platform-tailscale-general hostname: *.demo.example.org; the GitRepository's interval is 1m)\n",
		head[:8], time.Since(pushed).Round(time.Millisecond))
	if err := s.waitAll(ctx, out, 9, "main@sha1:"+head, timeout); err != nil {
		return err
	}
	for sink.count() == 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if sink.count() == 0 {
		return errors.New("no alert reached the webhook")
	}
	fmt.Fprintf(out, "✔ %d alerts delivered to the webhook\n", sink.count())
	return nil
}

func waitWebhookPath(ctx context.Context, c client.Client, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var r notificationv1.Receiver
		if err := c.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "github"}, &r); err == nil &&
			apimeta.IsStatusConditionTrue(r.Status.Conditions, "Ready") && r.Status.WebhookPath != "" {
			return r.Status.WebhookPath, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("the Receiver did not become Ready in time")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
