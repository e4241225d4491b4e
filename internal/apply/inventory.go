package apply

import (
	"slices"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// NewInventory returns the inventory of what a change set applied, in Flux's format: one
// entry per object, `id` as ObjMetadata.ID and `v` the API version, in change-set order
// (which is apply order), without duplicates. Skipped objects are listed too, as Flux does:
// they stay owned, and prune skips them anyway.
func NewInventory(cs *ChangeSet) *kustomizev1.ResourceInventory {
	inv := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	if cs == nil {
		return inv
	}
	seen := make(map[string]bool, len(cs.Entries))
	for _, e := range cs.Entries {
		if e.Action == Deleted {
			continue
		}
		id := e.ObjMetadata.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		inv.Entries = append(inv.Entries, kustomizev1.ResourceRef{ID: id, Version: e.Version})
	}
	return inv
}

// InventoryOf returns the inventory of objects, in apply order.
func InventoryOf(objs []*unstructured.Unstructured) *kustomizev1.ResourceInventory {
	sorted := slices.Clone(objs)
	SortObjects(sorted)
	inv := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	MergeInventory(inv, sorted)
	return inv
}

// MergeInventory appends the objects that inv does not list yet, keeping its order. The
// reconciler uses it to keep objects whose deletion failed in the inventory, so that the
// next reconciliation retries it.
func MergeInventory(inv *kustomizev1.ResourceInventory, objs []*unstructured.Unstructured) {
	seen := make(map[string]bool, len(inv.Entries))
	for _, e := range inv.Entries {
		seen[e.ID] = true
	}
	for _, o := range objs {
		id := ObjMetadataFor(o).ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		inv.Entries = append(inv.Entries, kustomizev1.ResourceRef{ID: id, Version: o.GroupVersionKind().Version})
	}
}

// InventoryObjects returns the inventory's entries as objects carrying only their identity
// and API version, in apply order.
func InventoryObjects(inv *kustomizev1.ResourceInventory) ([]*unstructured.Unstructured, error) {
	if inv == nil {
		return nil, nil
	}
	objs := make([]*unstructured.Unstructured, 0, len(inv.Entries))
	for _, e := range inv.Entries {
		meta, err := ParseID(e.ID)
		if err != nil {
			return nil, err
		}
		objs = append(objs, meta.Object(e.Version))
	}
	SortObjects(objs)
	return objs, nil
}

// Stale returns the objects that old lists and current does not (compared by identity, not
// API version), in apply order: what prune deletes. Either inventory may be nil.
func Stale(old, current *kustomizev1.ResourceInventory) ([]*unstructured.Unstructured, error) {
	if old == nil {
		return nil, nil
	}
	keep := make(map[ObjMetadata]bool)
	if current != nil {
		for _, e := range current.Entries {
			meta, err := ParseID(e.ID)
			if err != nil {
				return nil, err
			}
			keep[meta] = true
		}
	}
	var stale []*unstructured.Unstructured
	seen := make(map[ObjMetadata]bool)
	for _, e := range old.Entries {
		meta, err := ParseID(e.ID)
		if err != nil {
			return nil, err
		}
		if keep[meta] || seen[meta] {
			continue
		}
		seen[meta] = true
		stale = append(stale, meta.Object(e.Version))
	}
	SortObjects(stale)
	return stale, nil
}
