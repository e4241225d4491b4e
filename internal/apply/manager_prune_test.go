package apply_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
)

func configMaps(names ...string) string {
	var docs []string
	for _, n := range names {
		annotations := ""
		if n == "keep" {
			annotations = "\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: Disabled"
		}
		if n == "ignored" {
			annotations = "\n  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: Ignore"
		}
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: NS%s\ndata:\n  k: v\n", n, annotations))
	}
	return strings.Join(docs, "\n---\n")
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	first, err := m.ApplyAllStaged(t.Context(), objects(t, ns, configMaps("stale", "keep", "moved", "stays")), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// "moved" is taken over by another Kustomization.
	other := newManager(ns, "other")
	if _, err := other.ApplyAllStaged(t.Context(), objects(t, ns, configMaps("moved")), apply.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// A stale object that is already gone.
	gone := obj("v1", "ConfigMap", ns, "gone")
	oldInv := apply.NewInventory(first)
	apply.MergeInventory(oldInv, []*unstructured.Unstructured{gone})

	second, err := m.ApplyAllStaged(t.Context(), objects(t, ns, configMaps("stays")), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := apply.Stale(oldInv, apply.NewInventory(second))
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 4 {
		t.Fatalf("stale = %d objects, want 4", len(stale))
	}
	cs, err := m.Prune(t.Context(), stale, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{
		"ConfigMap/" + ns + "/stale": apply.Deleted,
		"ConfigMap/" + ns + "/keep":  apply.Skipped,
		"ConfigMap/" + ns + "/moved": apply.Skipped,
		"ConfigMap/" + ns + "/gone":  apply.Skipped,
	})
	if exists(t, "v1", "ConfigMap", ns, "stale") {
		t.Error("stale object not deleted")
	}
	for _, name := range []string{"keep", "moved", "stays"} {
		if !exists(t, "v1", "ConfigMap", ns, name) {
			t.Errorf("%s deleted", name)
		}
	}
	if got := cs.Changes().String(); got != "ConfigMap/"+ns+"/stale deleted" {
		t.Errorf("changes = %q", got)
	}
}

func TestPruneSkipsIgnoredAndRequiresOwner(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	if _, err := m.ApplyAllStaged(t.Context(), objects(t, ns, configMaps("a", "b")), apply.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"a": "kustomize.toolkit.fluxcd.io/ssa", "b": "kustomize.toolkit.fluxcd.io/reconcile"} {
		value := "Ignore"
		if name == "b" {
			value = "disabled"
		}
		cm := live(t, "v1", "ConfigMap", ns, name)
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, key, value)
		if err := env.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-annotate")); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := m.Prune(t.Context(), []*unstructured.Unstructured{obj("v1", "ConfigMap", ns, "a"), obj("v1", "ConfigMap", ns, "b")}, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"ConfigMap/" + ns + "/a": apply.Skipped, "ConfigMap/" + ns + "/b": apply.Skipped})

	if _, err := apply.NewManager(env.Client, apply.Options{}).Prune(t.Context(), nil, apply.PruneOptions{}); err == nil {
		t.Error("a manager without owner pruned")
	}
}

func TestPruneReverseOrder(t *testing.T) {
	t.Parallel()
	ns := "t-" + rand.String(8)
	nsObj := obj("v1", "Namespace", "", ns)
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), nsObj) })
	m := newManager("flux-system", "infra")
	manifests := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: NS\n---\n" + configMaps("cfg") +
		"\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: NS-reader\nrules: []\n"
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := apply.InventoryObjects(apply.NewInventory(cs))
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := m.Prune(t.Context(), objs, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range pruned.Entries {
		order = append(order, e.ObjMetadata.Kind)
		if e.Action != apply.Deleted {
			t.Errorf("%s %s", e.Subject, e.Action)
		}
	}
	if got := strings.Join(order, ","); got != "ConfigMap,ClusterRole,Namespace" {
		t.Errorf("prune order %s, want ConfigMap,ClusterRole,Namespace", got)
	}
}

func TestDeleteAllAndWaitForTermination(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	manifests := configMaps("plain") + "\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: NS\n  finalizers: [weir.test/hold]\n"
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inv := apply.NewInventory(cs)
	deleted, err := m.DeleteAll(t.Context(), inv, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, deleted, map[string]apply.Action{"ConfigMap/" + ns + "/plain": apply.Deleted, "ConfigMap/" + ns + "/held": apply.Deleted})

	objs, _ := apply.InventoryObjects(inv)
	err = m.WaitForTermination(t.Context(), objs, apply.WaitOptions{Timeout: time.Second, Interval: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/held") || strings.Contains(err.Error(), "/plain") {
		t.Fatalf("wait with a finalizer pending: %v", err)
	}

	held := live(t, "v1", "ConfigMap", ns, "held")
	if err := env.Client.Patch(t.Context(), held, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`))); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitForTermination(t.Context(), objs, apply.WaitOptions{Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if exists(t, "v1", "ConfigMap", ns, "held") {
		t.Error("WaitForTermination returned while the object exists")
	}
}
