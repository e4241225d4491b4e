package helmrelease

import (
	"context"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/depends"
	"github.com/weirgitops/weir/internal/reconcile"
)

const dependsOnIndex = ".spec.dependsOn"

// dependsOn is a HelmRelease's spec.dependsOn.
func dependsOn(hr *helmv2.HelmRelease) []meta.DependencyReference { return hr.Spec.DependsOn }

// checkDependencies reports the first dependency that is not ready, through weir's shared
// dependsOn machinery: a dependency turning Ready reconciles its dependents at once.
func (r *Reconciler) checkDependencies(ctx context.Context, hr *helmv2.HelmRelease) error {
	c := depends.Checker[*helmv2.HelmRelease]{
		Reader:               r.Client,
		New:                  func() *helmv2.HelmRelease { return &helmv2.HelmRelease{} },
		ObservedGeneration:   func(h *helmv2.HelmRelease) int64 { return h.Status.ObservedGeneration },
		NoCrossNamespaceRefs: r.NoCrossNamespaceRefs,
		RequeueDependency:    r.RequeueDependency,
		Additive:             r.AdditiveCELDependencyCheck,
		DependsOn:            dependsOn,
	}
	return c.Check(ctx, hr)
}

// becameReady passes a HelmRelease that turned Ready, or released anew while Ready.
type becameReady struct{ predicate.Funcs }

// Update passes a HelmRelease that is Ready now and was not, or has a new release.
func (becameReady) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*helmv2.HelmRelease)
	n, ok2 := e.ObjectNew.(*helmv2.HelmRelease)
	if !ok1 || !ok2 || !reconcile.IsReady(n.Status.Conditions) {
		return false
	}
	return !reconcile.IsReady(o.Status.Conditions) || o.Status.ObservedGeneration != n.Status.ObservedGeneration ||
		o.Status.LastAttemptedRevision != n.Status.LastAttemptedRevision
}

// Create passes nothing.
func (becameReady) Create(event.CreateEvent) bool { return false }

// Delete passes nothing.
func (becameReady) Delete(event.DeleteEvent) bool { return false }

// Generic passes nothing.
func (becameReady) Generic(event.GenericEvent) bool { return false }
