package apply

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/weirgitops/weir/internal/compat"
)

const (
	// idSeparator separates the fields of an inventory id; Kubernetes names cannot hold it.
	idSeparator = "_"
	// colonTranscoded stands for ':' in names (RBAC names may hold colons), as in Flux.
	colonTranscoded = "__"
)

// ObjMetadata identifies an object independently of its API version: the identity Flux
// records in a Kustomization's inventory.
type ObjMetadata struct {
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	Name      string
	// Group is empty for the core API group.
	Group string
	Kind  string
}

// ObjMetadataFor returns the identity of obj.
func ObjMetadataFor(obj *unstructured.Unstructured) ObjMetadata {
	gvk := obj.GroupVersionKind()
	return ObjMetadata{Namespace: obj.GetNamespace(), Name: obj.GetName(), Group: gvk.Group, Kind: gvk.Kind}
}

// GroupKind returns the object's group and kind.
func (o ObjMetadata) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: o.Group, Kind: o.Kind}
}

// ID returns the inventory id in Flux's format, `<namespace>_<name>_<group>_<kind>`, with
// colons in the name written as "__": `default_podinfo__Service`,
// `_system__controller_rbac.authorization.k8s.io_ClusterRole`.
func (o ObjMetadata) ID() string {
	name := strings.ReplaceAll(o.Name, ":", colonTranscoded)
	return o.Namespace + idSeparator + name + idSeparator + o.Group + idSeparator + o.Kind
}

// String returns the inventory id.
func (o ObjMetadata) String() string { return o.ID() }

// Subject returns the object as Flux names it in events: `Kind/namespace/name`, or
// `Kind/name` for cluster-scoped objects.
func (o ObjMetadata) Subject() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// ParseID parses an inventory id written by ID (or by Flux).
func ParseID(id string) (ObjMetadata, error) {
	ns, rest, ok := strings.Cut(id, idSeparator)
	if !ok {
		return ObjMetadata{}, fmt.Errorf("parse inventory id %q: too few fields", id)
	}
	i := strings.LastIndex(rest, idSeparator)
	if i < 0 {
		return ObjMetadata{}, fmt.Errorf("parse inventory id %q: too few fields", id)
	}
	kind := rest[i+1:]
	rest = rest[:i]
	i = strings.LastIndex(rest, idSeparator)
	if i < 0 {
		return ObjMetadata{}, fmt.Errorf("parse inventory id %q: too few fields", id)
	}
	group := rest[i+1:]
	name := strings.ReplaceAll(rest[:i], colonTranscoded, ":")
	switch {
	case strings.Contains(name, idSeparator):
		return ObjMetadata{}, fmt.Errorf("parse inventory id %q: too many fields", id)
	case name == "" || kind == "":
		return ObjMetadata{}, fmt.Errorf("parse inventory id %q: empty name or kind", id)
	}
	return ObjMetadata{Namespace: ns, Name: name, Group: group, Kind: kind}, nil
}

// Object returns an unstructured object carrying only this identity and the given API
// version: enough to get or delete the object.
func (o ObjMetadata) Object(version string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: o.Group, Version: version, Kind: o.Kind})
	u.SetNamespace(o.Namespace)
	u.SetName(o.Name)
	return u
}

// metadataValue returns the value of key among the object's annotations, else its labels:
// Flux accepts its per-object settings as either.
func metadataValue(obj *unstructured.Unstructured, key string) string {
	if obj == nil {
		return ""
	}
	if v, ok := obj.GetAnnotations()[key]; ok {
		return v
	}
	return obj.GetLabels()[key]
}

// hasMetadata reports whether the object carries key with value (case-insensitive) as a label
// or an annotation.
func hasMetadata(obj *unstructured.Unstructured, key, value string) bool {
	if obj == nil {
		return false
	}
	return strings.EqualFold(obj.GetAnnotations()[key], value) || strings.EqualFold(obj.GetLabels()[key], value)
}

// ReconcileDisabled reports whether obj is marked `kustomize.toolkit.fluxcd.io/reconcile:
// disabled`: it is neither applied nor pruned. The mark counts on the desired object and on
// the live one.
func ReconcileDisabled(obj *unstructured.Unstructured) bool {
	return hasMetadata(obj, compat.ReconcileAnnotation, compat.Disabled)
}

// SSAPolicy returns the object's `kustomize.toolkit.fluxcd.io/ssa` policy, normalised to
// one of compat.SSAOverride (the default), compat.SSAMerge, compat.SSAIfNotPresent and
// compat.SSAIgnore. Unknown values count as Override.
func SSAPolicy(obj *unstructured.Unstructured) string {
	v := metadataValue(obj, compat.SSAAnnotation)
	for _, p := range []string{compat.SSAMerge, compat.SSAIfNotPresent, compat.SSAIgnore} {
		if strings.EqualFold(v, p) {
			return p
		}
	}
	return compat.SSAOverride
}

// Excluded reports whether obj is left alone entirely: reconcile disabled or ssa Ignore.
// Excluded objects are not applied, not pruned and not health-checked.
func Excluded(obj *unstructured.Unstructured) bool {
	return obj != nil && (ReconcileDisabled(obj) || SSAPolicy(obj) == compat.SSAIgnore)
}

// PruneDisabled reports whether obj is marked `kustomize.toolkit.fluxcd.io/prune: disabled`.
func PruneDisabled(obj *unstructured.Unstructured) bool {
	return hasMetadata(obj, compat.PruneAnnotation, compat.Disabled)
}

// ForceEnabled reports whether obj is marked `kustomize.toolkit.fluxcd.io/force: enabled`:
// recreate it when an apply fails on an immutable field.
func ForceEnabled(obj *unstructured.Unstructured) bool {
	return hasMetadata(obj, compat.ForceAnnotation, compat.Enabled)
}
