package notification_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/webhook"
)

const token = "s3cr3t-webhook-token"

// githubPush posts a GitHub push (or another event) to the Receiver's path, signed with key
// (unsigned when key is empty), and returns the HTTP status.
func githubPush(t *testing.T, path, eventType, key string, body []byte) int {
	t.Helper()
	return githubDelivery(t, path, eventType, key, fmt.Sprint(time.Now().UnixNano()), body)
}

// githubDelivery is githubPush with a given delivery ID.
func githubDelivery(t *testing.T, path, eventType, key, delivery string, body []byte) int {
	t.Helper()
	code, err := webhook.GitHub(t.Context(), receiverURL+path, key, eventType, delivery, body)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func receiverConditions(r *notificationv1.Receiver) []metav1.Condition { return r.Status.Conditions }

// TestReceiverGitHubPushDeploys: a signed GitHub push to a Receiver in front of a GitRepository
// (interval one hour) makes the new commit applied by its Kustomization at once; an unsigned,
// mis-signed or malformed request, an event type the Receiver does not list and a replayed
// delivery are refused and change nothing.
func TestReceiverGitHubPushDeploys(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML("app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "webhook-token"}, StringData: map[string]string{"token": token}}
	rcv := &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"},
		Spec: notificationv1.ReceiverSpec{Type: notificationv1.GitHubReceiver, Events: []string{"ping", "push"},
			SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{
				Kind: sourcev1.GitRepositoryKind, Name: "repo"}}}}}
	create(t, secret, gitRepository(ns, "repo", srv.RepoURL("repo")), kustomization(ns, "app", "./app", "repo"), rcv)

	rcv = waitReady(t, rcv, receiverConditions, nil)
	want := (&notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "github"}}).GetWebhookPath(token)
	if rcv.Status.WebhookPath != want {
		t.Fatalf("status.webhookPath %q, want %q", rcv.Status.WebhookPath, want)
	}
	if c := apimeta.FindStatusCondition(rcv.Status.Conditions, "Ready"); c.Message != "Receiver initialized for path: "+want {
		t.Errorf("Ready message %q", c.Message)
	}
	waitValue(t, ns, "1")

	second := repo.Commit("main", "two", map[string]string{"app/cm.yaml": configMapYAML("app", "2")})
	body := webhook.GitHubPushBody("refs/heads/main", second, "org/repo")
	requested := func() string {
		var gr sourcev1.GitRepository
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "repo"}, &gr); err != nil {
			t.Fatal(err)
		}
		return gr.Annotations[meta.ReconcileRequestAnnotation]
	}
	for name, c := range map[string]struct {
		key, event string
		body       []byte
	}{
		"unsigned":    {"", "push", body},
		"mis-signed":  {"another-token", "push", body},
		"bad json":    {token, "push", []byte(`{"ref":`)},
		"not allowed": {token, "issues", []byte(`{}`)},
	} {
		if code := githubPush(t, rcv.Status.WebhookPath, c.event, c.key, c.body); code < 400 || code >= 500 {
			t.Errorf("%s request: status %d, want a 4xx refusal", name, code)
		}
	}
	if code := githubPush(t, "/hook/"+strings.Repeat("0", 64), "push", token, body); code != http.StatusNotFound {
		t.Errorf("unknown path: status %d, want 404", code)
	}
	if got := requested(); got != "" {
		t.Fatalf("a refused request annotated the GitRepository: %q", got)
	}
	delivery := "72d3162e-cc78-11e3-81ab-" + ns
	if code := githubDelivery(t, rcv.Status.WebhookPath, "push", token, delivery, body); code != http.StatusOK {
		t.Fatalf("signed push: status %d, want 200", code)
	}
	waitValue(t, ns, "2")
	if code := githubDelivery(t, rcv.Status.WebhookPath, "push", token, delivery, body); code != http.StatusConflict {
		t.Errorf("replayed delivery: status %d, want 409", code)
	}
	if requested() == "" {
		t.Error("no reconcile.fluxcd.io/requestedAt on the GitRepository")
	}
}

func waitValue(t *testing.T, ns, want string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &cm); err != nil {
			return err
		}
		if cm.Data["value"] != want {
			var ks kustomizev1.Kustomization
			_ = env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &ks)
			return fmt.Errorf("ConfigMap value %q, want %q (Kustomization %+v)", cm.Data["value"], want, ks.Status.Conditions)
		}
		return nil
	})
}

// TestReceiverBadSecret: a Receiver whose Secret is missing, or lacks the token key, is
// Ready=False with TokenNotFound; an invalid resourceFilter stalls it.
func TestReceiverBadSecret(t *testing.T) {
	ns := env.Namespace(t)
	mk := func(name, secret, filter string) *notificationv1.Receiver {
		return &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: notificationv1.ReceiverSpec{Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: secret},
				ResourceFilter: filter,
				Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{
					Kind: sourcev1.GitRepositoryKind, Name: "repo"}}}}}
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-token"}, StringData: map[string]string{"other": "x"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ok"}, StringData: map[string]string{"token": token}},
		mk("missing", "absent", ""), mk("empty", "no-token", ""), mk("filter", "ok", "res.metadata.name =="))
	for name, want := range map[string][2]string{
		"missing": {"TokenNotFound", "absent"},
		"empty":   {"TokenNotFound", "required field 'token'"},
		"filter":  {"InvalidCELExpression", "resourceFilter"},
	} {
		testenv.Eventually(t, 30*time.Second, func() error {
			var r notificationv1.Receiver
			if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
				return err
			}
			c := apimeta.FindStatusCondition(r.Status.Conditions, "Ready")
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != want[0] || !strings.Contains(c.Message, want[1]) {
				return fmt.Errorf("%s: Ready %+v, want False %s with %q", name, c, want[0], want[1])
			}
			if strings.Contains(c.Message, token) {
				return fmt.Errorf("%s: the token is in the message", name)
			}
			if r.Status.WebhookPath != "" {
				return fmt.Errorf("%s: webhookPath %q kept while not Ready", name, r.Status.WebhookPath)
			}
			return nil
		})
	}
}
