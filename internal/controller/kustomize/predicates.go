package kustomize

import (
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/reconcile"
)

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
