package kustomize

import (
	"context"
	"errors"
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/health"
	"github.com/weirgitops/weir/internal/reconcile"
)

// errHealthCanceled ends a health wait when a new source revision arrives.
var errHealthCanceled = errors.New("new source revision")

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

// waitHealthy polls the targets until all are Current, one fails for good, the timeout passes
// or ctx is cancelled (a new revision). It reads straight from the API server.
func (r *Reconciler) waitHealthy(ctx context.Context, c client.Client, ks *kustomizev1.Kustomization, targets []health.ObjectID) error {
	eval, err := health.NewEvaluator(ks.Spec.HealthCheckExprs)
	if err != nil {
		return reconcile.Stalled(compat.InvalidCELExpressionReason, err)
	}
	start := time.Now()
	timeout := ks.GetTimeout()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	delay := 100 * time.Millisecond
	var statuses []health.ObjectStatus
	for {
		statuses = statuses[:0]
		for _, id := range targets {
			statuses = append(statuses, r.objectHealth(ctx, c, eval, id))
		}
		switch health.Aggregate(statuses) {
		case status.CurrentStatus:
			return nil
		case status.FailedStatus:
			if stalled := health.StalledError(statuses); stalled != nil && !r.Gates.Enabled(features.DisableFailFastBehavior) {
				return reconcile.Failed(compat.HealthCheckFailedReason, health.CheckFailed(time.Since(start), stalled))
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errHealthCanceled) {
				return reconcile.Waiting(compat.HealthCheckCanceledReason, time.Millisecond,
					fmt.Errorf("health check canceled: new source revision arrived"))
			}
			return reconcile.Failed(compat.HealthCheckFailedReason, health.CheckFailed(time.Since(start), ctx.Err()))
		case <-deadline.C:
			return reconcile.Failed(compat.HealthCheckFailedReason, health.CheckFailed(time.Since(start), health.TimeoutError(statuses)))
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay = delay * 3 / 2
		}
	}
}

func (r *Reconciler) objectHealth(ctx context.Context, c client.Client, eval *health.Evaluator, id health.ObjectID) health.ObjectStatus {
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
