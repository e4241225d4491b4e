package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
)

// fakeSourceController answers reconcile requests on one GitRepository like the controller
// would: it copies requestedAt to lastHandledReconcileAt with the given outcome.
func fakeSourceController(t *testing.T, ns, name string, ready metav1.ConditionStatus, msg, rev string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var r sourcev1.GitRepository
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
				continue
			}
			req := r.Annotations[meta.ReconcileRequestAnnotation]
			if req == r.Status.LastHandledReconcileAt && r.Status.ObservedGeneration == r.Generation {
				continue
			}
			r.Status.LastHandledReconcileAt = req
			r.Status.ObservedGeneration = r.Generation
			r.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: ready, Reason: "Test",
				Message: msg, LastTransitionTime: metav1.Now(), ObservedGeneration: r.Generation}}
			if rev != "" {
				r.Status.Artifact = artifact(rev)
			}
			_ = env.Client.Status().Update(ctx, &r)
		}
	}()
}

func TestReconcileSourceGit(t *testing.T) {
	ns := env.Namespace(t)
	gitRepo(t, ns, "podinfo", false)
	fakeSourceController(t, ns, "podinfo", metav1.ConditionTrue, "stored", rev1)
	out, errOut, code := weir(t, nil, "reconcile", "source", "git", "podinfo", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("► annotating GitRepository podinfo in %s namespace", ns),
		"✔ GitRepository annotated",
		"◎ waiting for GitRepository reconciliation",
		"✔ fetched revision " + rev1,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var r sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "podinfo"}, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, r.Annotations[meta.ReconcileRequestAnnotation]); err != nil {
		t.Errorf("requestedAt is not RFC3339Nano: %v", err)
	}
}

func TestReconcileFailureAndSuspended(t *testing.T) {
	ns := env.Namespace(t)
	gitRepo(t, ns, "broken", false)
	fakeSourceController(t, ns, "broken", metav1.ConditionFalse, "authentication required: 401", "")
	_, errOut, code := weir(t, nil, "reconcile", "source", "git", "broken", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "authentication required: 401") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("failed reconcile: exit %d, stderr %q", code, errOut)
	}
	gitRepo(t, ns, "paused", true)
	_, errOut, code = weir(t, nil, "reconcile", "source", "git", "paused", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "suspended") {
		t.Errorf("suspended reconcile: exit %d, stderr %q", code, errOut)
	}
}

func TestSuspendResumeDelete(t *testing.T) {
	ns := env.Namespace(t)
	gitRepo(t, ns, "a", false)
	gitRepo(t, ns, "b", false)
	out, errOut, code := weir(t, nil, "suspend", "source", "git", "--all", "-n", ns)
	if code != 0 || !strings.Contains(out, "✔ source git suspended") {
		t.Fatalf("suspend --all: exit %d: %s%s", code, out, errOut)
	}
	for _, n := range []string{"a", "b"} {
		var r sourcev1.GitRepository
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: n}, &r); err != nil || !r.Spec.Suspend {
			t.Errorf("%s not suspended: %v", n, err)
		}
	}
	fakeSourceController(t, ns, "a", metav1.ConditionTrue, "stored", rev1)
	out, errOut, code = weir(t, nil, "resume", "source", "git", "a", "-n", ns)
	if code != 0 || !strings.Contains(out, "✔ fetched revision "+rev1) {
		t.Fatalf("resume: exit %d: %s%s", code, out, errOut)
	}

	_, errOut, code = weir(t, []byte("y\n"), "delete", "source", "git", "b", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "--silent") {
		t.Errorf("delete without a terminal: exit %d, %q", code, errOut)
	}
	out, errOut, code = weir(t, nil, "delete", "source", "git", "b", "-s", "-n", ns)
	if code != 0 || !strings.Contains(out, "✔ source git deleted") {
		t.Fatalf("delete -s: exit %d: %s%s", code, out, errOut)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		var r sourcev1.GitRepository
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "b"}, &r); err == nil {
			return fmt.Errorf("b still exists")
		}
		return nil
	})
}
