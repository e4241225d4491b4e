package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeController answers reconcile requests on any Flux object: it copies requestedAt to
// lastHandledReconcileAt, sets Ready=True and applies set to the status.
func fakeController(t *testing.T, gvk schema.GroupVersionKind, ns, name string, set map[string]any) {
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
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
				continue
			}
			req := u.GetAnnotations()[meta.ReconcileRequestAnnotation]
			handled, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
			if req == "" || req == handled {
				continue
			}
			status, _, _ := unstructured.NestedMap(u.Object, "status")
			if status == nil {
				status = map[string]any{}
			}
			status["lastHandledReconcileAt"], status["observedGeneration"] = req, u.GetGeneration()
			status["conditions"] = []any{map[string]any{"type": "Ready", "status": "True", "reason": "Test", "message": "ok",
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration()}}
			for k, v := range set {
				status[k] = v
			}
			if force := u.GetAnnotations()[meta.ForceRequestAnnotation]; force != "" {
				status["lastHandledForceAt"] = force
			}
			u.Object["status"] = status
			_ = env.Client.Status().Update(ctx, u)
		}
	}()
}

func TestReconcileKustomizationWithSource(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	fakeSourceController(t, ns, "podinfo", metav1.ConditionTrue, "stored", rev1)
	rev2 := "main@sha1:2222222222222222222222222222222222222222"
	fakeController(t, ksKindGVK, ns, "apps", map[string]any{"lastAppliedRevision": rev2})
	out, errOut, code := weir(t, nil, "reconcile", "ks", "apps", "--with-source", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	i := strings.Index(out, "► annotating GitRepository podinfo")
	j := strings.Index(out, "► annotating Kustomization apps")
	if i < 0 || j < i || !strings.Contains(out, "✔ applied revision "+rev2) {
		t.Errorf("reconcile ks --with-source output:\n%s", out)
	}
}

func TestReconcileHelmReleaseForce(t *testing.T) {
	ns := env.Namespace(t)
	seedHelm(t, ns)
	fakeController(t, hrKindGVK, ns, "podinfo", nil)
	fakeController(t, schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"}, ns, ns+"-podinfo", nil)
	out, errOut, code := weir(t, nil, "reconcile", "hr", "podinfo", "--force", "--reset", "--with-source", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	var hr helmv2.HelmRelease
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "podinfo"}, &hr); err != nil {
		t.Fatal(err)
	}
	req := hr.Annotations[meta.ReconcileRequestAnnotation]
	if req == "" || hr.Annotations[meta.ForceRequestAnnotation] != req || hr.Annotations["reconcile.fluxcd.io/resetAt"] != req {
		t.Errorf("annotations = %v, want requestedAt, forceAt and resetAt equal", hr.Annotations)
	}
	if !strings.Contains(out, "► annotating HelmChart "+ns+"-podinfo") || !strings.Contains(out, "✔ fetched revision 6.5.0") ||
		!strings.Contains(out, "✔ applied revision 6.5.0") {
		t.Errorf("output lacks the chart version:\n%s", out)
	}
}

var (
	ksKindGVK = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	hrKindGVK = schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"}
)
