package notification_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Nexus signs with HMAC-SHA1
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
)

func hexHMAC(h hashWriter, body []byte) string {
	_, _ = h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

type hashWriter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

// TestReceiverTypesEndToEnd sends each receiver type a real, valid request through weir's
// webhook server, and checks that the Receiver's GitRepository is asked to reconcile, and that
// the same request with a wrong secret is refused and asks nothing.
func TestReceiverTypesEndToEnd(t *testing.T) {
	ns := env.Namespace(t)
	sha256mac := func(key string, body []byte) string {
		return hexHMAC(hmac.New(sha256.New, []byte(key)), body)
	}
	sha1mac := func(key string, body []byte) string {
		return hexHMAC(hmac.New(sha1.New, []byte(key)), body)
	}
	type request struct {
		body    string
		headers func(key string, body []byte) map[string]string
	}
	json := map[string]string{"Content-Type": "application/json"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range json {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := map[string]request{
		"generic-hmac": {`{"ref":"main"}`, func(key string, b []byte) map[string]string {
			return with(map[string]string{"X-Signature": "sha256=" + sha256mac(key, b)})
		}},
		"gitlab": {`{"object_kind":"push"}`, func(key string, _ []byte) map[string]string {
			return with(map[string]string{"X-Gitlab-Token": key, "X-Gitlab-Event": "Push Hook"})
		}},
		"bitbucket": {`{"eventKey":"repo:refs_changed"}`, func(key string, b []byte) map[string]string {
			return with(map[string]string{"X-Hub-Signature": "sha256=" + sha256mac(key, b), "X-Event-Key": "repo:refs_changed"})
		}},
		"harbor": {`{"type":"PUSH_ARTIFACT"}`, func(key string, _ []byte) map[string]string {
			return with(map[string]string{"Authorization": key})
		}},
		"nexus": {`{"action":"CREATED","repositoryName":"docker"}`, func(key string, b []byte) map[string]string {
			return with(map[string]string{"X-Nexus-Webhook-Signature": sha1mac(key, b)})
		}},
	}
	paths := map[string]string{}
	for typ := range cases {
		name := typ
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"token": "token-of-" + name}}
		repo := gitRepository(ns, name, "https://git.invalid/"+name)
		repo.Spec.Suspend = true
		rcv := &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: notificationv1.ReceiverSpec{Type: typ, SecretRef: &meta.LocalObjectReference{Name: name},
				Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{
					Kind: sourcev1.GitRepositoryKind, Name: name}}}}}
		create(t, secret, repo, rcv)
		paths[typ] = waitReady(t, rcv, receiverConditions, nil).Status.WebhookPath
	}
	send := func(typ, key string) int {
		c := cases[typ]
		body := []byte(c.body)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, receiverURL+paths[typ], bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.headers(key, body) {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	requested := func(name string) string {
		var gr sourcev1.GitRepository
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &gr); err != nil {
			t.Fatal(err)
		}
		return gr.Annotations[meta.ReconcileRequestAnnotation]
	}
	for typ := range cases {
		if code := send(typ, "a-wrong-token"); code != http.StatusBadRequest {
			t.Errorf("%s with a wrong secret: status %d, want 400", typ, code)
		}
		if got := requested(typ); got != "" {
			t.Errorf("%s: a refused request annotated the GitRepository (%q)", typ, got)
		}
		if code := send(typ, "token-of-"+typ); code != http.StatusOK {
			t.Errorf("%s valid request: status %d, want 200", typ, code)
			continue
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			if requested(typ) == "" {
				return fmt.Errorf("%s: no reconcile request on the GitRepository", typ)
			}
			return nil
		})
	}
}
