package source

import (
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
)

// reconcileRequested passes updates that change the reconcile.fluxcd.io/requestedAt
// annotation, so `weir reconcile` and webhook Receivers trigger a reconcile.
type reconcileRequested struct{ predicate.Funcs }

func (reconcileRequested) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	return e.ObjectNew.GetAnnotations()[compat.ReconcileRequestAnnotation] != e.ObjectOld.GetAnnotations()[compat.ReconcileRequestAnnotation]
}

func (reconcileRequested) Create(event.CreateEvent) bool   { return false }
func (reconcileRequested) Delete(event.DeleteEvent) bool   { return false }
func (reconcileRequested) Generic(event.GenericEvent) bool { return false }

// artifactChanged passes updates of a source whose artifact revision or digest changed.
type artifactChanged struct{ predicate.Funcs }

func (artifactChanged) Update(e event.UpdateEvent) bool {
	return artifactID(e.ObjectOld) != artifactID(e.ObjectNew)
}

func (artifactChanged) Create(event.CreateEvent) bool   { return false }
func (artifactChanged) Delete(event.DeleteEvent) bool   { return false }
func (artifactChanged) Generic(event.GenericEvent) bool { return false }

func artifactID(o any) string {
	var a *meta.Artifact
	if repo, ok := o.(*sourcev1.GitRepository); ok {
		a = repo.Status.Artifact
	}
	if a == nil {
		return ""
	}
	return a.Revision + "|" + a.Digest
}

func controllerOptions(concurrent int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: concurrent}
}
