package helmrelease

import (
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"

	"github.com/weirgitops/weir/internal/apply"
)

// inventory lists the objects of the release's manifest (hooks are not in it) and the CRDs of
// the chart's crds/ directory, as Flux's status.inventory.
func inventory(rel *releasev1.Release, mapper apimeta.RESTMapper) *helmv2.ResourceInventory {
	objs := manifestObjects(rel, mapper)
	if crds, err := chartCRDs(rel.Chart); err == nil {
		objs = append(objs, crds...)
	}
	inv := apply.InventoryOf(objs)
	out := &helmv2.ResourceInventory{Entries: make([]helmv2.ResourceRef, 0, len(inv.Entries))}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, helmv2.ResourceRef{ID: e.ID, Version: e.Version})
	}
	return out
}
