package reconcile

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Patcher writes an object's changes as merge patches against the copy it was created with:
// metadata (finalizers) through the object, status through the status subresource.
type Patcher struct {
	c      client.Client
	before client.Object
}

// NewPatcher remembers obj as read. Create it before mutating obj.
func NewPatcher(c client.Client, obj client.Object) *Patcher {
	return &Patcher{c: c, before: obj.DeepCopyObject().(client.Object)}
}

// Patch writes what changed since the patcher was created (or last patched). A status change
// of an object that was deleted meanwhile is not an error.
func (p *Patcher) Patch(ctx context.Context, obj client.Object) error {
	if !equality.Semantic.DeepEqual(p.before.GetFinalizers(), obj.GetFinalizers()) {
		if err := p.c.Patch(ctx, obj, client.MergeFrom(p.before)); err != nil {
			return fmt.Errorf("patch %s: %w", client.ObjectKeyFromObject(obj), err)
		}
	}
	if statusOf(p.before) != nil && !equality.Semantic.DeepEqual(statusOf(p.before), statusOf(obj)) {
		if err := p.c.Status().Patch(ctx, obj, client.MergeFrom(p.before)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("patch status of %s: %w", client.ObjectKeyFromObject(obj), err)
		}
	}
	p.before = obj.DeepCopyObject().(client.Object)
	return nil
}

// statusOf returns the status field of a typed object, through its unstructured form.
func statusOf(obj client.Object) any {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil
	}
	if s, ok := u["status"]; ok {
		return s
	}
	return map[string]any{}
}
