package apply

import (
	"encoding/json"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weirgitops/weir/internal/compat"
)

func fields(raw string) *metav1.FieldsV1 { return metav1.NewFieldsV1(raw) }

func entry(manager string, op metav1.ManagedFieldsOperationType, raw string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: fields(raw)}
}

func TestTakeOverManagedFields(t *testing.T) {
	const owner = compat.KustomizeFieldManager
	managers := takeoverManagers(owner, []string{"helm"})
	apply, update := metav1.ManagedFieldsOperationApply, metav1.ManagedFieldsOperationUpdate
	cases := map[string]struct {
		in        []metav1.ManagedFieldsEntry
		taken     bool
		managers  []string // managers left, in order
		ownerJSON string   // the owner's fields after the takeover
	}{
		"nothing to take": {
			in:       []metav1.ManagedFieldsEntry{entry(owner, apply, `{"f:data":{"f:a":{}}}`), entry("kube-controller-manager", update, `{"f:status":{}}`)},
			managers: []string{owner, "kube-controller-manager"},
		},
		"kubectl edit merged into the owner": {
			in: []metav1.ManagedFieldsEntry{
				entry(owner, apply, `{"f:data":{"f:a":{}}}`),
				entry("kubectl-edit", update, `{"f:data":{"f:b":{}}}`),
			},
			taken: true, managers: []string{owner},
			ownerJSON: `{"f:data":{"f:a":{},"f:b":{}}}`,
		},
		"kubectl client-side apply and before-first-apply": {
			in: []metav1.ManagedFieldsEntry{
				entry("before-first-apply", update, `{"f:data":{"f:x":{}}}`),
				entry("kubectl-client-side-apply", update, `{"f:data":{"f:y":{}}}`),
				entry(owner, apply, `{"f:data":{"f:a":{}}}`),
			},
			taken: true, managers: []string{owner},
			ownerJSON: `{"f:data":{"f:a":{},"f:x":{},"f:y":{}}}`,
		},
		"kubectl server-side apply": {
			in:    []metav1.ManagedFieldsEntry{entry("kubectl", apply, `{"f:data":{"f:k":{}}}`)},
			taken: true, managers: []string{owner},
			ownerJSON: `{"f:data":{"f:k":{}}}`,
		},
		"flux-client-side-apply survives": {
			in: []metav1.ManagedFieldsEntry{
				entry(owner, apply, `{"f:data":{"f:a":{}}}`),
				entry(compat.FluxClientFieldManager, update, `{"f:data":{"f:keep":{}}}`),
			},
			managers: []string{owner, compat.FluxClientFieldManager},
		},
		"owner's own updates and override managers": {
			in: []metav1.ManagedFieldsEntry{
				entry(owner, update, `{"f:data":{"f:old":{}}}`),
				entry("helm", apply, `{"f:data":{"f:h":{}}}`),
				entry("other", update, `{"f:data":{"f:o":{}}}`),
				entry(owner, apply, `{"f:data":{"f:a":{}}}`),
			},
			taken: true, managers: []string{"other", owner},
			ownerJSON: `{"f:data":{"f:a":{},"f:h":{},"f:old":{}}}`,
		},
		"status subresource untouched": {
			in: []metav1.ManagedFieldsEntry{func() metav1.ManagedFieldsEntry {
				e := entry("kubectl-edit", update, `{"f:status":{}}`)
				e.Subresource = "status"
				return e
			}()},
			managers: []string{"kubectl-edit"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			out, taken, err := TakeOverManagedFields(c.in, owner, managers)
			if err != nil {
				t.Fatal(err)
			}
			if taken != c.taken {
				t.Errorf("taken = %v, want %v", taken, c.taken)
			}
			var names []string
			for _, e := range out {
				names = append(names, e.Manager)
			}
			if !slices.Equal(names, c.managers) {
				t.Errorf("managers = %q, want %q", names, c.managers)
			}
			if c.ownerJSON == "" {
				return
			}
			for _, e := range out {
				if e.Manager != owner {
					continue
				}
				if e.Operation != apply {
					t.Errorf("owner entry operation = %s", e.Operation)
				}
				if got := string(e.FieldsV1.GetRawBytes()); !jsonEqual(t, got, c.ownerJSON) {
					t.Errorf("owner fields = %s, want %s", got, c.ownerJSON)
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestCleanupPatch(t *testing.T) {
	live := obj("v1", "ConfigMap", "ns", "cfg")
	live.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "x"})
	live.SetLabels(map[string]string{"fluxcd.io/sync-gc-mark": "y"})
	desired := obj("v1", "ConfigMap", "ns", "cfg")
	patch, err := cleanupPatch(desired, live, compat.KustomizeFieldManager, takeoverManagers(compat.KustomizeFieldManager, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"remove","path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"},{"op":"remove","path":"/metadata/labels/fluxcd.io~1sync-gc-mark"}]`
	if string(patch) != want {
		t.Errorf("patch = %s\nwant %s", patch, want)
	}

	desired.SetAnnotations(map[string]string{compat.SSAAnnotation: "merge"})
	if patch, _ := cleanupPatch(desired, live, compat.KustomizeFieldManager, nil); patch != nil {
		t.Errorf("ssa: merge object got a cleanup patch %s", patch)
	}
	if patch, _ := cleanupPatch(obj("v1", "ConfigMap", "ns", "cfg"), obj("v1", "ConfigMap", "ns", "cfg"), compat.KustomizeFieldManager, nil); patch != nil {
		t.Errorf("clean object got a patch %s", patch)
	}
}

func TestMetadataHelpers(t *testing.T) {
	with := func(annotations, labels map[string]string) *unstructured.Unstructured {
		o := obj("v1", "ConfigMap", "ns", "cfg")
		o.SetAnnotations(annotations)
		o.SetLabels(labels)
		return o
	}
	cases := map[string]struct {
		obj                               *unstructured.Unstructured
		ssa                               string
		excluded, pruneOff, force, recOff bool
	}{
		"plain":                   {obj: with(nil, nil), ssa: compat.SSAOverride},
		"ssa merge lower case":    {obj: with(map[string]string{compat.SSAAnnotation: "merge"}, nil), ssa: compat.SSAMerge},
		"ssa ignore as label":     {obj: with(nil, map[string]string{compat.SSAAnnotation: "Ignore"}), ssa: compat.SSAIgnore, excluded: true},
		"ssa if not present":      {obj: with(map[string]string{compat.SSAAnnotation: "IfNotPresent"}, nil), ssa: compat.SSAIfNotPresent},
		"ssa unknown is override": {obj: with(map[string]string{compat.SSAAnnotation: "sometimes"}, nil), ssa: compat.SSAOverride},
		"reconcile disabled":      {obj: with(map[string]string{compat.ReconcileAnnotation: "Disabled"}, nil), ssa: compat.SSAOverride, excluded: true, recOff: true},
		"prune disabled":          {obj: with(map[string]string{compat.PruneAnnotation: "disabled"}, nil), ssa: compat.SSAOverride, pruneOff: true},
		"force enabled as label":  {obj: with(nil, map[string]string{compat.ForceAnnotation: "Enabled"}), ssa: compat.SSAOverride, force: true},
		"force disabled":          {obj: with(map[string]string{compat.ForceAnnotation: "disabled"}, nil), ssa: compat.SSAOverride},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := SSAPolicy(c.obj); got != c.ssa {
				t.Errorf("SSAPolicy = %q, want %q", got, c.ssa)
			}
			if got := Excluded(c.obj); got != c.excluded {
				t.Errorf("Excluded = %v", got)
			}
			if got := PruneDisabled(c.obj); got != c.pruneOff {
				t.Errorf("PruneDisabled = %v", got)
			}
			if got := ForceEnabled(c.obj); got != c.force {
				t.Errorf("ForceEnabled = %v", got)
			}
			if got := ReconcileDisabled(c.obj); got != c.recOff {
				t.Errorf("ReconcileDisabled = %v", got)
			}
		})
	}
	if Excluded(nil) {
		t.Error("Excluded(nil) = true")
	}
}
