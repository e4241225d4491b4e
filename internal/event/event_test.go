package event_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/weirgitops/weir/internal/event"
)

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := kustomizev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func kustomization() *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "apps", UID: "uid-1", ResourceVersion: "7"}}
}

// TestBusDeliversCopies checks that subscribers get Flux-shaped copies that neither the
// reconciler nor another subscriber can change, and that unsubscribing closes the channel.
func TestBusDeliversCopies(t *testing.T) {
	bus := &event.Bus{}
	a, cancelA := bus.Subscribe(4)
	b, cancelB := bus.Subscribe(4)
	defer cancelB()
	rec := event.NewRecorder(nil, newScheme(t), "kustomize-controller", kustomizev1.GroupVersion.Group, bus)
	ks := kustomization()
	meta := map[string]string{"revision": "main@sha1:abc"}
	rec.Warning(ks, "HealthCheckFailed", meta, "timeout waiting for %s", "Deployment/apps/web")
	ks.Name, meta["revision"] = "changed-after", "changed-after"

	ea, eb := <-a, <-b
	if ea.InvolvedObject.Kind != "Kustomization" || ea.InvolvedObject.APIVersion != "kustomize.toolkit.fluxcd.io/v1" ||
		ea.InvolvedObject.Name != "apps" || ea.InvolvedObject.Namespace != "flux-system" || ea.InvolvedObject.UID != "uid-1" {
		t.Errorf("involvedObject = %+v", ea.InvolvedObject)
	}
	if ea.Severity != event.SeverityError || ea.Reason != "HealthCheckFailed" || ea.Message != "timeout waiting for Deployment/apps/web" ||
		ea.ReportingController != "kustomize-controller" || ea.Timestamp.IsZero() {
		t.Errorf("event = %+v", ea)
	}
	if got := ea.Metadata["kustomize.toolkit.fluxcd.io/revision"]; got != "main@sha1:abc" {
		t.Errorf("metadata = %v, want the revision as recorded", ea.Metadata)
	}
	ea.Metadata["kustomize.toolkit.fluxcd.io/revision"] = "edited by a"
	if got := eb.Metadata["kustomize.toolkit.fluxcd.io/revision"]; got != "main@sha1:abc" {
		t.Errorf("one subscriber's edit reached another: %q", got)
	}
	cancelA()
	if _, open := <-a; open {
		t.Error("channel still open after unsubscribe")
	}
	rec.Normal(ks, "ReconciliationSucceeded", nil, "done")
	if e := <-b; e.Reason != "ReconciliationSucceeded" {
		t.Errorf("remaining subscriber got %+v", e)
	}
}

// notificationController stands in for Flux's notification-controller events endpoint: it
// records the events posted to it, answering first with the given statuses.
type notificationController struct {
	mu       sync.Mutex
	statuses []int
	got      []map[string]any
	calls    int
}

func (n *notificationController) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	if len(n.statuses) > 0 {
		code := n.statuses[0]
		n.statuses = n.statuses[1:]
		if code != http.StatusAccepted {
			w.WriteHeader(code)
			return
		}
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n.got = append(n.got, e)
	w.WriteHeader(http.StatusAccepted)
}

func TestForwarderPostsFluxEvents(t *testing.T) {
	nc := &notificationController{statuses: []int{http.StatusServiceUnavailable}}
	srv := httptest.NewServer(nc)
	defer srv.Close()
	bus := &event.Bus{}
	f := &event.Forwarder{URL: srv.URL + "/", Backoff: 10 * time.Millisecond}
	ctx := t.Context()
	go func() { _ = f.Run(ctx, bus) }()
	rec := event.NewRecorder(nil, newScheme(t), "kustomize-controller", kustomizev1.GroupVersion.Group, bus)

	// The forwarder subscribes when it starts; record until the stand-in has the event.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec.Normal(kustomization(), "ReconciliationSucceeded", map[string]string{"revision": "main@sha1:abc"}, "Applied revision: main@sha1:abc")
		nc.mu.Lock()
		n := len(nc.got)
		nc.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event reached the stand-in notification-controller")
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
	nc.mu.Lock()
	e, calls := nc.got[0], nc.calls
	nc.mu.Unlock()
	if calls < 2 {
		t.Errorf("the 503 answer was not retried: %d calls", calls)
	}
	obj, _ := e["involvedObject"].(map[string]any)
	meta, _ := e["metadata"].(map[string]any)
	if obj["kind"] != "Kustomization" || obj["name"] != "apps" || obj["namespace"] != "flux-system" ||
		e["severity"] != "info" || e["reason"] != "ReconciliationSucceeded" || e["reportingController"] != "kustomize-controller" ||
		e["message"] != "Applied revision: main@sha1:abc" || meta["kustomize.toolkit.fluxcd.io/revision"] != "main@sha1:abc" {
		t.Errorf("posted event = %v", e)
	}
	if _, err := time.Parse(time.RFC3339, e["timestamp"].(string)); err != nil {
		t.Errorf("timestamp %v: %v", e["timestamp"], err)
	}
}

func TestForwarderTakesTooManyRequestsAsFinal(t *testing.T) {
	nc := &notificationController{statuses: []int{http.StatusTooManyRequests}}
	srv := httptest.NewServer(nc)
	defer srv.Close()
	f := &event.Forwarder{URL: srv.URL, Backoff: time.Millisecond}
	if err := f.Send(t.Context(), event.Event{Reason: "x"}); err != nil {
		t.Fatalf("429 (a duplicate) reported as an error: %v", err)
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.calls != 1 {
		t.Errorf("429 retried: %d calls", nc.calls)
	}
}
