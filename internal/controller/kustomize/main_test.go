package kustomize_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

// TestMain runs the tests on one control plane, kube-controller-manager included, with weir's
// GitRepository and Kustomization controllers running in-process.
// gatesLabel marks the objects of a test that runs its own manager (other feature gates).
const gatesLabel = "weir.test/gates"

// metricsAddr is where the manager serves /metrics.
var metricsAddr = func() string {
	addr, err := testenv.FreeAddr()
	if err != nil {
		panic(err)
	}
	return addr
}()

func TestMain(m *testing.M) {
	events := httptest.NewServer(notificationController)
	code := testenv.Run(m, testenv.Options{ControllerManager: true}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "ocirepository", "bucket", "kustomization"}
		o.EventsAddr = events.URL + "/"
		o.MetricsAddr = metricsAddr
		// Objects labelled gatesLabel belong to the managers that tests start with other gates.
		o.WatchLabelSelector = "!" + gatesLabel
	}))
	events.Close()
	os.Exit(code)
}

// notificationController stands in for Flux's notification-controller: weir posts every
// event to it (--events-addr), and tests read what it received.
var notificationController = &eventSink{}

// eventSink records the Flux events posted to it.
type eventSink struct {
	mu     sync.Mutex
	events []fluxEvent
}

// fluxEvent is the part of Flux's event JSON the tests read.
type fluxEvent struct {
	InvolvedObject struct {
		Kind, APIVersion, Namespace, Name string
	} `json:"involvedObject"`
	Severity            string            `json:"severity"`
	Reason              string            `json:"reason"`
	Message             string            `json:"message"`
	Metadata            map[string]string `json:"metadata"`
	ReportingController string            `json:"reportingController"`
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var e fluxEvent
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&e); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// received returns the events posted about the object ns/name so far.
func (s *eventSink) received(ns, name string) []fluxEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []fluxEvent
	for _, e := range s.events {
		if e.InvolvedObject.Namespace == ns && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// waitKustomization waits until the Kustomization's Ready condition, for its current
// generation, has the wanted status and check passes.
func waitKustomization(t *testing.T, key client.ObjectKey, want metav1.ConditionStatus, timeout time.Duration, check func(*kustomizev1.Kustomization) error) *kustomizev1.Kustomization {
	t.Helper()
	var ks kustomizev1.Kustomization
	testenv.Eventually(t, timeout, func() error {
		if err := env.Client.Get(t.Context(), key, &ks); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		if c == nil || c.Status != want || ks.Status.ObservedGeneration != ks.Generation {
			return fmt.Errorf("Kustomization %s: Ready = %+v, want %s", key, c, want)
		}
		if check != nil {
			return check(&ks)
		}
		return nil
	})
	return &ks
}

func gitRepository(ns, name, url string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL: url, Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
}
