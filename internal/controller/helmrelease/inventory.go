package helmrelease

import (
	"bytes"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/weirgitops/weir/internal/apply"
)

// inventory lists the objects of the release's manifest (hooks are not in it), with the
// release namespace on namespaced objects that do not name one, as Flux's status.inventory.
func inventory(rel *releasev1.Release, mapper apimeta.RESTMapper) *helmv2.ResourceInventory {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(rel.Manifest)), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			// io.EOF ends the stream; Helm wrote the manifest, so no other error is expected,
			// and the objects read so far are listed.
			break
		}
		if len(u.Object) == 0 || u.GetKind() == "" {
			continue
		}
		if u.GetNamespace() == "" {
			if m, err := mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version); err == nil &&
				m.Scope.Name() == apimeta.RESTScopeNameNamespace {
				u.SetNamespace(rel.Namespace)
			}
		}
		objs = append(objs, u)
	}
	inv := apply.InventoryOf(objs)
	out := &helmv2.ResourceInventory{Entries: make([]helmv2.ResourceRef, 0, len(inv.Entries))}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, helmv2.ResourceRef{ID: e.ID, Version: e.Version})
	}
	return out
}
