//go:build faults

package faults_test

import (
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

const deploymentNoReplicas = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: scaled
spec:
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec:
      containers: [{name: app, image: registry.example/app:1}]
`

// TestContention has others write to what weir manages: a field edited by hand, replicas owned
// by an autoscaler (a field manager standing in for the HPA controller: there are no metrics
// here), an object annotated ssa: IfNotPresent edited by hand, a managed object deleted by
// hand, and two Kustomizations declaring the same ConfigMap.
// Oracles: the hand edit is set back and the deleted object recreated by the next reconcile;
// the autoscaler's replicas and the IfNotPresent object are left as they are; of the two
// claimants, the one that took the object over keeps it and the other reports Ready=False
// naming it, and the object's value and owner stay put over further reconciles of both (no
// flip-flop); once one of them stops declaring it, both are Ready and the object is not pruned.
func TestContention(t *testing.T) {
	w := newWorld(t)
	repo := w.repo("contention", map[string]string{
		"app/kustomization.yaml": kustomizationFile("resources: [cm.yaml, keep.yaml, deploy.yaml]\n"),
		"app/cm.yaml":            configMap("edited", "from-git"),
		"app/keep.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  annotations: {kustomize.toolkit.fluxcd.io/ssa: IfNotPresent}\ndata: {value: from-git}\n",
		"app/deploy.yaml":        deploymentNoReplicas,
		"a/kustomization.yaml":   kustomizationFile("resources: [shared.yaml]\n"),
		"a/shared.yaml":          configMap("shared", "a"),
		"b/kustomization.yaml":   kustomizationFile("resources: [shared.yaml]\n"),
		"b/shared.yaml":          configMap("shared", "b"),
	})
	app := w.kustomization("app", "contention", "./app")
	a := w.kustomization("claim-a", "contention", "./a")
	w.start(nil)
	w.waitReady(app, time.Minute)
	w.waitReady(a, time.Minute)

	// Hand edits, an autoscaler and a deletion.
	edited := &corev1.ConfigMap{}
	get(t, "edited", w.ns, edited)
	edited.Data["value"] = "by-hand"
	if err := env.Client.Update(t.Context(), edited, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	keep := &corev1.ConfigMap{}
	get(t, "keep", w.ns, keep)
	keep.Data["value"] = "by-hand"
	if err := env.Client.Update(t.Context(), keep, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	scale := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"scaled","namespace":%q},"spec":{"replicas":3}}`, w.ns)
	if err := env.Client.Patch(t.Context(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "scaled"}},
		client.RawPatch(types.ApplyPatchType, []byte(scale)), client.FieldOwner("horizontal-pod-autoscaler"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "shared"}}); err != nil {
		t.Fatal(err)
	}
	env.RequestReconcile(t, app)
	env.RequestReconcile(t, a)
	testenv.Eventually(t, time.Minute, func() error {
		cm := &corev1.ConfigMap{}
		get(t, "edited", w.ns, cm)
		if cm.Data["value"] != "from-git" {
			return fmt.Errorf("the hand edit was not set back: %q", cm.Data["value"])
		}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: "shared"}, &corev1.ConfigMap{}); err != nil {
			return fmt.Errorf("the deleted object was not recreated: %w", err)
		}
		return nil
	})
	w.waitReady(app, time.Minute)
	get(t, "keep", w.ns, keep)
	if keep.Data["value"] != "by-hand" {
		t.Errorf("the IfNotPresent object was overwritten: %q", keep.Data["value"])
	}
	d := &appsv1.Deployment{}
	get(t, "scaled", w.ns, d)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("the autoscaler's replicas were not left alone: %v", d.Spec.Replicas)
	}

	// A second Kustomization declares the same ConfigMap: it takes it over, and the first
	// reports the conflict instead of taking it back.
	b := w.kustomization("claim-b", "contention", "./b")
	w.waitReady(b, time.Minute)
	env.RequestReconcile(t, a)
	msg := w.waitCondition(a, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "ConfigMap", "shared", "claim-b")
	t.Logf("claim-a: %s", msg)
	shared := &corev1.ConfigMap{}
	get(t, "shared", w.ns, shared)
	rv := shared.ResourceVersion
	for range 3 {
		env.RequestReconcile(t, a)
		env.RequestReconcile(t, b)
		w.waitCondition(b, meta.ReadyCondition, metav1.ConditionTrue, "", time.Minute)
		w.waitCondition(a, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "claim-b")
	}
	get(t, "shared", w.ns, shared)
	if shared.ResourceVersion != rv || shared.Data["value"] != "b" || shared.Labels["kustomize.toolkit.fluxcd.io/name"] != "claim-b" {
		t.Errorf("the shared object flipped: value %q, owner %q, resourceVersion %s → %s",
			shared.Data["value"], shared.Labels["kustomize.toolkit.fluxcd.io/name"], rv, shared.ResourceVersion)
	}

	// The first one stops declaring it: both are Ready and the object stays.
	w.commit(repo, "a drops shared", map[string]string{"a/shared.yaml": gitserver.Deleted, "a/kustomization.yaml": kustomizationFile("resources: [other.yaml]\n"), "a/other.yaml": configMap("other", "a")})
	testenv.Eventually(t, time.Minute, func() error {
		k := &kustomizev1.Kustomization{}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(a), k); err != nil {
			return err
		}
		if c, _ := condition(k, meta.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("claim-a not Ready after dropping the object: %v", c)
		}
		return nil
	})
	get(t, "shared", w.ns, shared)
	if shared.Data["value"] != "b" {
		t.Errorf("the shared object changed after claim-a dropped it: %q", shared.Data["value"])
	}
	w.assertNoCanary()
}

// get reads the named object of namespace ns into obj, failing the test when it cannot.
func get(t *testing.T, name, ns string, obj client.Object) {
	t.Helper()
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
}
