package kustomize

import (
	"context"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/health"
)

// healthTargets returns the objects to check: every applied one with spec.wait, else the
// healthChecks entries with their wildcards expanded over what was applied.
func healthTargets(ks *kustomizev1.Kustomization, applied []*unstructured.Unstructured) ([]health.ObjectID, error) {
	ids := make([]health.ObjectID, 0, len(applied))
	for _, o := range applied {
		gvk := o.GroupVersionKind()
		if o.GetAnnotations()[compat.SSAAnnotation] == compat.SSAIgnore ||
			o.GetAnnotations()[compat.ReconcileAnnotation] == compat.Disabled {
			continue
		}
		ids = append(ids, health.ObjectID{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()})
	}
	if ks.Spec.Wait {
		return ids, nil
	}
	if len(ks.Spec.HealthChecks) == 0 {
		return nil, nil
	}
	return health.ExpandChecks(ks.Spec.HealthChecks, ids, ks.Namespace)
}

// pollHealth reads the targets with c (a remote cluster's client) and evaluates them.
func pollHealth(ctx context.Context, c client.Client, eval *health.Evaluator, targets []health.ObjectID) []health.ObjectStatus {
	out := make([]health.ObjectStatus, 0, len(targets))
	for _, id := range targets {
		out = append(out, objectHealth(ctx, c, eval, id))
	}
	return out
}

func objectHealth(ctx context.Context, c client.Client, eval *health.Evaluator, id health.ObjectID) health.ObjectStatus {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(schema.GroupVersionKind{Group: id.Group, Version: id.Version, Kind: id.Kind})
	if id.Version == "" {
		if gvk, err := c.RESTMapper().RESTMapping(schema.GroupKind{Group: id.Group, Kind: id.Kind}); err == nil {
			obj.SetGroupVersionKind(gvk.GroupVersionKind)
			id.Version = gvk.GroupVersionKind.Version
		}
	}
	err := c.Get(ctx, client.ObjectKey{Namespace: id.Namespace, Name: id.Name}, obj)
	if apierrors.IsNotFound(err) {
		return health.ObjectStatus{ID: id, Result: health.Result{Status: status.NotFoundStatus, Message: "not found"}}
	}
	if err != nil {
		return health.ObjectStatus{ID: id, Result: health.Result{Status: status.UnknownStatus}, Err: err}
	}
	res, err := eval.Status(ctx, obj)
	return health.ObjectStatus{ID: id, Result: res, Err: err}
}
