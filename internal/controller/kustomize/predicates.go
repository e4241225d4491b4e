package kustomize

import (
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
)

// reconcileRequested passes updates that change reconcile.fluxcd.io/requestedAt.
type reconcileRequested struct{ predicate.Funcs }

func (reconcileRequested) Update(e event.UpdateEvent) bool {
	return e.ObjectNew.GetAnnotations()[compat.ReconcileRequestAnnotation] != e.ObjectOld.GetAnnotations()[compat.ReconcileRequestAnnotation]
}
func (reconcileRequested) Create(event.CreateEvent) bool   { return false }
func (reconcileRequested) Delete(event.DeleteEvent) bool   { return false }
func (reconcileRequested) Generic(event.GenericEvent) bool { return false }

// artifactChanged passes updates of a source whose artifact changed.
type artifactChanged struct{ predicate.Funcs }

func (artifactChanged) Update(e event.UpdateEvent) bool {
	return artifactID(e.ObjectOld) != artifactID(e.ObjectNew)
}
func (artifactChanged) Create(event.CreateEvent) bool   { return true }
func (artifactChanged) Delete(event.DeleteEvent) bool   { return false }
func (artifactChanged) Generic(event.GenericEvent) bool { return false }

func artifactID(o any) string {
	var a *meta.Artifact
	switch s := o.(type) {
	case *sourcev1.GitRepository:
		a = s.Status.Artifact
	case *sourcev1.OCIRepository:
		a = s.Status.Artifact
	case *sourcev1.Bucket:
		a = s.Status.Artifact
	}
	if a == nil {
		return ""
	}
	return a.Revision + "|" + a.Digest
}

// becameReady passes a Kustomization update that made it Ready or changed what it applied,
// which is what its dependents wait for.
type becameReady struct{ predicate.Funcs }

func (becameReady) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*kustomizev1.Kustomization)
	n, ok2 := e.ObjectNew.(*kustomizev1.Kustomization)
	if !ok1 || !ok2 {
		return false
	}
	if !reconcile.IsReady(n.Status.Conditions) {
		return false
	}
	return !reconcile.IsReady(o.Status.Conditions) || o.Status.LastAppliedRevision != n.Status.LastAppliedRevision ||
		o.Status.ObservedGeneration != n.Status.ObservedGeneration
}
func (becameReady) Create(event.CreateEvent) bool   { return false }
func (becameReady) Delete(event.DeleteEvent) bool   { return false }
func (becameReady) Generic(event.GenericEvent) bool { return false }
