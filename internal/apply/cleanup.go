package apply

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/weirgitops/weir/internal/compat"
)

// FieldManager selects managedFields entries to take over: entries whose manager name starts
// with Name and whose operation is Operation, on the main resource (not a subresource).
type FieldManager struct {
	Name      string
	Operation metav1.ManagedFieldsOperationType
}

// takeoverManagers returns the managers whose fields Flux takes over before every apply, so
// that fields they set and the declaration does not are removed: kubectl (client-side
// apply, edit, patch, scale… all start with "kubectl"), kubectl's before-first-apply, and
// the owner's own pre-SSA updates; plus the extra names given (Flux's --override-manager).
// `flux-client-side-apply` is not among them: edits made with it survive.
func takeoverManagers(owner string, extra []string) []FieldManager {
	ms := []FieldManager{
		{Name: "kubectl", Operation: metav1.ManagedFieldsOperationApply},
		{Name: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate},
		{Name: "before-first-apply", Operation: metav1.ManagedFieldsOperationUpdate},
		{Name: owner, Operation: metav1.ManagedFieldsOperationUpdate},
	}
	for _, name := range extra {
		ms = append(ms,
			FieldManager{Name: name, Operation: metav1.ManagedFieldsOperationApply},
			FieldManager{Name: name, Operation: metav1.ManagedFieldsOperationUpdate})
	}
	return ms
}

// Metadata that Flux removes from live objects before applying: kubectl's last applied
// configuration and Flux v1 leftovers.
var (
	cleanupAnnotations = []string{
		"kubectl.kubernetes.io/last-applied-configuration",
		"kustomize.toolkit.fluxcd.io/checksum",
		"fluxcd.io/sync-checksum",
	}
	cleanupLabels = []string{"fluxcd.io/sync-gc-mark"}
)

func (m FieldManager) matches(e metav1.ManagedFieldsEntry) bool {
	return e.Subresource == "" && e.Operation == m.Operation && strings.HasPrefix(e.Manager, m.Name)
}

// TakeOverManagedFields returns entries with every entry selected by managers merged into
// owner's Apply entry, so that owner owns those fields from now on and a later apply that
// does not declare them removes them. It reports false when no entry matched.
func TakeOverManagedFields(entries []metav1.ManagedFieldsEntry, owner string, managers []FieldManager) ([]metav1.ManagedFieldsEntry, bool, error) {
	ownerIdx := -1
	for i, e := range entries {
		if e.Manager == owner && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			ownerIdx = i
		}
	}
	var (
		merged  *fieldpath.Set
		out     = make([]metav1.ManagedFieldsEntry, 0, len(entries))
		taken   bool
		ownerAt = -1
		first   metav1.ManagedFieldsEntry
	)
	addFields := func(e metav1.ManagedFieldsEntry) error {
		if e.FieldsV1 == nil {
			return nil
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.GetRawBytes())); err != nil {
			return fmt.Errorf("read managed fields of %s: %w", e.Manager, err)
		}
		if merged == nil {
			merged = s
		} else {
			merged = merged.Union(s)
		}
		return nil
	}
	for i, e := range entries {
		switch {
		case i == ownerIdx:
			if err := addFields(e); err != nil {
				return nil, false, err
			}
			ownerAt = len(out)
			out = append(out, e)
		case matchesAny(e, managers, owner):
			if !taken {
				first = e
			}
			taken = true
			if err := addFields(e); err != nil {
				return nil, false, err
			}
		default:
			out = append(out, e)
		}
	}
	if !taken {
		return entries, false, nil
	}
	if ownerAt < 0 {
		out = append(out, metav1.ManagedFieldsEntry{
			Manager:    owner,
			Operation:  metav1.ManagedFieldsOperationApply,
			APIVersion: first.APIVersion,
			Time:       first.Time,
			FieldsType: "FieldsV1",
		})
		ownerAt = len(out) - 1
	}
	if merged != nil {
		raw, err := merged.ToJSON()
		if err != nil {
			return nil, false, fmt.Errorf("write managed fields of %s: %w", owner, err)
		}
		out[ownerAt].FieldsType = "FieldsV1"
		out[ownerAt].FieldsV1 = metav1.NewFieldsV1(string(raw))
	}
	return out, true, nil
}

func matchesAny(e metav1.ManagedFieldsEntry, managers []FieldManager, owner string) bool {
	for _, m := range managers {
		if m.matches(e) {
			// The owner's own Apply entry is never taken over from itself.
			return e.Manager != owner || e.Operation != metav1.ManagedFieldsOperationApply
		}
	}
	return false
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// cleanupPatch returns the JSON patch that removes the cleanup annotations and labels from
// live and takes over the fields of managers, or nil when there is nothing to do. Objects
// marked ssa Merge (desired or live) are left as they are.
func cleanupPatch(desired, live *unstructured.Unstructured, owner string, managers []FieldManager) ([]byte, error) {
	if live == nil || SSAPolicy(desired) == compat.SSAMerge || SSAPolicy(live) == compat.SSAMerge {
		return nil, nil
	}
	var ops []jsonPatchOp
	for _, k := range cleanupAnnotations {
		if _, ok := live.GetAnnotations()[k]; ok {
			ops = append(ops, jsonPatchOp{Op: "remove", Path: "/metadata/annotations/" + escapePointer(k)})
		}
	}
	for _, k := range cleanupLabels {
		if _, ok := live.GetLabels()[k]; ok {
			ops = append(ops, jsonPatchOp{Op: "remove", Path: "/metadata/labels/" + escapePointer(k)})
		}
	}
	entries, taken, err := TakeOverManagedFields(live.GetManagedFields(), owner, managers)
	if err != nil {
		return nil, err
	}
	if taken {
		ops = append(ops, jsonPatchOp{Op: "replace", Path: "/metadata/managedFields", Value: entries})
	}
	if len(ops) == 0 {
		return nil, nil
	}
	if rv := live.GetResourceVersion(); rv != "" {
		// The patch rewrites managedFields as read: refuse it if the object changed since.
		ops = append([]jsonPatchOp{{Op: "test", Path: "/metadata/resourceVersion", Value: rv}}, ops...)
	}
	return json.Marshal(ops)
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
