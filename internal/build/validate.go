package build

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ObjectRef renders an object as Flux does in messages: Kind/namespace/name,
// or Kind/name for cluster-scoped objects.
func ObjectRef(obj *unstructured.Unstructured) string {
	kind := obj.GetKind()
	if kind == "" {
		kind = "<no kind>"
	}
	name := obj.GetName()
	if name == "" {
		name = "<no name>"
	}
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s", kind, ns, name)
	}
	return fmt.Sprintf("%s/%s", kind, name)
}

// Validate checks that every object has apiVersion, kind and metadata.name.
// The error names each offending object (errors.Join).
func Validate(objs []*unstructured.Unstructured) error {
	var errs []error
	for i, obj := range objs {
		var missing []string
		if obj.GetAPIVersion() == "" {
			missing = append(missing, "apiVersion")
		}
		if obj.GetKind() == "" {
			missing = append(missing, "kind")
		}
		if obj.GetName() == "" {
			missing = append(missing, "metadata.name")
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("object %d (%s): missing %v", i, ObjectRef(obj), missing))
		}
	}
	return errors.Join(errs...)
}
