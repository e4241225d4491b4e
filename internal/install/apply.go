package install

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager owns the fields the install writes.
const FieldManager = "weir"

// Apply applies objects in order with server-side apply, forcing ownership of the fields.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s/%s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// WaitCRDs waits until every CustomResourceDefinition among objs is Established.
func WaitCRDs(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		err := poll(ctx, func() (bool, error) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: obj.GetName()}, &crd); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("wait for CustomResourceDefinition %s to be established: %w", obj.GetName(), err)
		}
	}
	return nil
}

// WaitDeployment waits until the weir Deployment has rolled out its current generation and
// has an available replica.
func WaitDeployment(ctx context.Context, c client.Client, namespace string) error {
	err := poll(ctx, func() (bool, error) {
		var dep appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "weir"}, &dep); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		return dep.Status.ObservedGeneration >= dep.Generation &&
			dep.Status.UpdatedReplicas == want && dep.Status.AvailableReplicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("wait for deployment %s/weir to be available: %w", namespace, err)
	}
	return nil
}

// poll calls cond every half second until it reports done, fails, or ctx ends.
func poll(ctx context.Context, cond func() (bool, error)) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
