package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/webhook"
)

// webhookToken is the Receiver's secret in the webhook workload.
const webhookToken = "bench-webhook-token"

// runWebhook measures push to applied when a signed GitHub push event to a Receiver announces
// the push: webhook → GitRepository at the new revision → Kustomization applied.
func runWebhook(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
	ns := "webhook"
	path := func(int) string { return "app/app.yaml" }
	repo, url, _, err := c.newRepo(ns, map[string]string{path(0): appYAML(appName(0), true, "v0")})
	if err != nil {
		return nil, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	src := gitRepository(ns, "app", url)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "webhook-token"}, StringData: map[string]string{"token": webhookToken}}
	rcv := &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"},
		Spec: notificationv1.ReceiverSpec{Type: notificationv1.GitHubReceiver, Events: []string{"ping", "push"},
			SecretRef: &meta.LocalObjectReference{Name: secret.Name},
			Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{
				Kind: "GitRepository", Name: src.Name}}}}}
	if err := c.createAll(ctx, []client.Object{secret, rcv}); err != nil {
		return nil, err
	}
	if _, err := measureReady(ctx, c, cfg, ns, 1, []client.Object{src, kustomization(ns, appName(0), "app", "./app")}, "webhook"); err != nil {
		return nil, err
	}
	hook, err := webhookPath(ctx, c, client.ObjectKeyFromObject(rcv), cfg.timeout)
	if err != nil {
		return nil, err
	}
	trigger := func(ctx context.Context, head string) error {
		code, err := webhook.GitHub(ctx, "http://"+c.receiverAddr+hook, webhookToken, "push", head,
			webhook.GitHubPushBody("refs/heads/main", head, "bench/app"))
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("webhook answered %d", code)
		}
		return nil
	}
	r, err := runPushes(ctx, c, cfg, pushSet{ns: ns, n: 1, repo: repo, source: src, path: path, trigger: trigger})
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "push", "webhook (GitHub Receiver)", objectsPerApp+1
	finish(c, &r)
	return []Result{r}, nil
}

// webhookPath waits for the Receiver to be Ready and returns its path.
func webhookPath(ctx context.Context, c *cluster, key client.ObjectKey, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var r notificationv1.Receiver
		if err := c.client.Get(ctx, key, &r); err == nil && apimeta.IsStatusConditionTrue(r.Status.Conditions, "Ready") && r.Status.WebhookPath != "" {
			return r.Status.WebhookPath, nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("receiver %s not ready: %w", key, ctx.Err())
		case <-t.C:
		}
	}
}

// runAlerts measures alert throughput: n distinct events posted to weir's events endpoint by
// eight clients, each selected by an Alert and delivered to a generic Provider (a local HTTP
// server), from the first post until the provider received them all, with weir's CPU time
// and peak RSS over the window.
func runAlerts(ctx context.Context, c *cluster, cfg *config, n int) ([]Result, error) {
	ns := "alerts"
	var got atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = sink.Serve(l) }()
	defer func() { _ = sink.Close() }()
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := []client.Object{
		&notificationv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sink"},
			Spec: notificationv1beta3.ProviderSpec{Type: "generic", Address: "http://" + l.Addr().String()}},
		&notificationv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "all"},
			Spec: notificationv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: "sink"},
				EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: "HelmRelease", Name: "*"}}}},
	}
	if err := c.createAll(ctx, objs); err != nil {
		return nil, err
	}
	post := func(i int) (int, error) {
		body := fmt.Sprintf(`{"involvedObject":{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","name":"app-%d","namespace":%q},`+
			`"severity":"info","timestamp":%q,"message":"Helm upgrade succeeded %d","reason":"UpgradeSucceeded",`+
			`"metadata":{"helm.toolkit.fluxcd.io/revision":"1.0.%d"},"reportingController":"helm-controller"}`,
			i%100, ns, time.Now().UTC().Format(time.RFC3339), i, i)
		resp, err := http.Post("http://"+c.eventsAddr+"/", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	// The Alert reaches weir's cache a moment after its creation: probe until delivered.
	deadline := time.Now().Add(cfg.timeout)
	for probe := -1; got.Load() == 0; probe-- {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no event delivered to the provider")
		}
		if _, err := post(probe); err != nil {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // pacing a probe in the harness, not a test
	}
	base := got.Load()
	u0 := c.usage()
	start := time.Now()
	var wg sync.WaitGroup
	var postErr atomic.Value
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				if code, err := post(i); err != nil || code != http.StatusAccepted {
					postErr.Store(fmt.Errorf("event %d: status %d: %w", i, code, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := postErr.Load().(error); err != nil {
		return nil, err
	}
	for got.Load()-base < int64(n) {
		if time.Now().After(start.Add(cfg.timeout)) {
			return nil, fmt.Errorf("%d of %d events delivered", got.Load()-base, n)
		}
		time.Sleep(5 * time.Millisecond) //nolint:forbidigo // polling a counter in the harness
	}
	took := time.Since(start)
	weirCPU, _, _ := c.usage().since(u0)
	r := Result{Workload: "alerts", Variant: "generic provider", N: n, Machine: machine(cfg),
		ReadySeconds: seconds(took), CPUSeconds: weirCPU, EventsPerSecond: float64(n) / took.Seconds()}
	finish(c, &r)
	cfg.logf("  %d events delivered in %.2f s: %.0f events/s, weir CPU %.2f s", n, took.Seconds(), r.EventsPerSecond, weirCPU)
	return []Result{r}, nil
}
