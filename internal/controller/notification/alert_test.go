package notification_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// posted is one request a stand-in provider received.
type posted struct {
	header http.Header
	event  struct {
		InvolvedObject corev1.ObjectReference `json:"involvedObject"`
		Severity       string                 `json:"severity"`
		Message        string                 `json:"message"`
		Reason         string                 `json:"reason"`
		Metadata       map[string]string      `json:"metadata"`
		Reporting      string                 `json:"reportingController"`
	}
}

// standIn is an HTTP server standing in for a webhook provider; it answers status.
type standIn struct {
	*httptest.Server
	mu       sync.Mutex
	requests []posted
}

func newStandIn(t *testing.T, status int) *standIn {
	s := &standIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p posted
		p.header = r.Header.Clone()
		_ = json.Unmarshal(body, &p.event)
		s.mu.Lock()
		s.requests = append(s.requests, p)
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) received() []posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]posted(nil), s.requests...)
}

func provider(ns, name, address string) *notificationv1beta3.Provider {
	return &notificationv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: notificationv1beta3.ProviderSpec{Type: "generic", Address: address}}
}

func alert(ns, name, provider string, sources ...notificationv1.CrossNamespaceObjectReference) *notificationv1beta3.Alert {
	return &notificationv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: notificationv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: provider}, EventSources: sources}}
}

// TestAlertDeliversControllerEvents: the events of weir's own controllers reach an Alert's
// generic Provider (a real HTTP server) as Flux sends them: the event JSON with short metadata
// keys (the revision), the Alert's eventMetadata, no token, the Gotk-Component header; the
// commit-status update that ends a reconcile goes to Git providers only; an exclusion list
// drops what it matches; a provider answering 500 is retried and then reported by a Warning
// event on the Alert naming the provider and the status.
func TestAlertDeliversControllerEvents(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	rev := root.NewRepo("repo").Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML("app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	good, bad := newStandIn(t, http.StatusOK), newStandIn(t, http.StatusInternalServerError)
	all := notificationv1.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "*"}
	a := alert(ns, "slack", "good", all, notificationv1.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "repo"})
	a.Spec.EventMetadata = map[string]string{"cluster": "test-1"}
	a.Spec.ExclusionList = []string{"^stored artifact"}
	create(t, provider(ns, "good", good.URL), provider(ns, "bad", bad.URL), a, alert(ns, "failing", "bad", all),
		gitRepository(ns, "repo", srv.RepoURL("repo")), kustomization(ns, "app", "./app", "repo"))

	testenv.Eventually(t, 60*time.Second, func() error {
		for _, p := range good.received() {
			e := p.event
			if e.InvolvedObject.Kind == "Kustomization" && e.InvolvedObject.Name == "app" && e.Reason == "Progressing" &&
				strings.Contains(e.Message, "ConfigMap/"+ns+"/app created") {
				switch {
				case e.Metadata["revision"] != "main@sha1:"+rev:
					return fmt.Errorf("metadata %v: want the revision under its short key", e.Metadata)
				case e.Metadata["cluster"] != "test-1":
					return fmt.Errorf("metadata %v: want the Alert's eventMetadata", e.Metadata)
				case e.Metadata["token"] != "" || e.Metadata["kustomize.toolkit.fluxcd.io/revision"] != "":
					return fmt.Errorf("metadata %v: the token or a prefixed key was sent", e.Metadata)
				case p.header.Get("Gotk-Component") != "kustomize-controller":
					return fmt.Errorf("Gotk-Component %q", p.header.Get("Gotk-Component"))
				case e.Severity != "info" || e.Reporting != "kustomize-controller":
					return fmt.Errorf("event %+v", e)
				}
				return nil
			}
		}
		return fmt.Errorf("no change-set event of the Kustomization among %d received", len(good.received()))
	})
	for _, p := range good.received() {
		if strings.HasPrefix(p.event.Message, "stored artifact") {
			t.Errorf("the exclusion list let through %q", p.event.Message)
		}
		if p.event.Metadata["commit_status"] != "" {
			t.Errorf("a commit-status update reached a generic provider: %+v", p.event)
		}
	}
	testenv.Eventually(t, 90*time.Second, func() error {
		var events corev1.EventList
		if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "Alert" && e.InvolvedObject.Name == "failing" && e.Reason == "NotificationDispatchFailed" && e.Type == corev1.EventTypeWarning {
				if !strings.Contains(e.Message, "Provider bad") || !strings.Contains(e.Message, "500") {
					return fmt.Errorf("warning %q does not name the provider and the status", e.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("no NotificationDispatchFailed event on the failing Alert yet (%d requests to the failing provider)", len(bad.received()))
	})
	if n := len(bad.received()); n < 2 {
		t.Errorf("the failing provider got %d requests: a 500 must be retried", n)
	}
}

// TestEventsEndpoint: events posted by other emitters in Flux's JSON reach the Alerts that
// select them; a duplicate within the rate-limit interval is answered 429, a malformed event
// 400 and an oversized one 413.
func TestEventsEndpoint(t *testing.T) {
	ns := env.Namespace(t)
	sink := newStandIn(t, http.StatusOK)
	create(t, provider(ns, "sink", sink.URL), alert(ns, "helm", "sink", notificationv1.CrossNamespaceObjectReference{Kind: "HelmRelease", Name: "podinfo"}))
	post := func(body []byte) int {
		t.Helper()
		resp, err := http.Post(eventsURL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode
	}
	event := fmt.Sprintf(`{"involvedObject":{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","name":"podinfo","namespace":%q},
"severity":"info","timestamp":"2026-01-01T00:00:00Z","message":"Helm install succeeded","reason":"InstallSucceeded",
"metadata":{"helm.toolkit.fluxcd.io/revision":"6.5.0","helm.toolkit.fluxcd.io/token":"abc","other.io/x":"dropped"},
"reportingController":"helm-controller","reportingInstance":"helm-controller-0"}`, ns)
	// The Alert may not be in the cache yet: post until the sink has the event, each time a
	// new message so that none is a duplicate.
	testenv.Eventually(t, 30*time.Second, func() error {
		if len(sink.received()) > 0 {
			return nil
		}
		msg := fmt.Sprintf("Helm install succeeded %d", time.Now().UnixNano())
		if code := post([]byte(strings.Replace(event, "Helm install succeeded", msg, 1))); code != http.StatusAccepted {
			return fmt.Errorf("status %d, want 202", code)
		}
		return fmt.Errorf("nothing delivered yet")
	})
	got := sink.received()[0].event
	if got.Metadata["revision"] != "6.5.0" || got.Metadata["token"] != "" || got.Metadata["x"] != "" || got.Reporting != "helm-controller" {
		t.Errorf("delivered %+v", got)
	}
	if code := post([]byte(event)); code != http.StatusAccepted {
		t.Errorf("first post: %d, want 202", code)
	}
	if code := post([]byte(event)); code != http.StatusTooManyRequests {
		t.Errorf("duplicate: %d, want 429", code)
	}
	if code := post([]byte(`{"involvedObject":`)); code != http.StatusBadRequest {
		t.Errorf("malformed: %d, want 400", code)
	}
	if code := post([]byte(`{"severity":"info","message":"no object"}`)); code != http.StatusBadRequest {
		t.Errorf("no involved object: %d, want 400", code)
	}
	if code := post(bytes.Repeat([]byte(" "), 4<<20)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %d, want 413", code)
	}
}
