package reconcile

import (
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
)

// ReconcileRequested passes updates that change the reconcile.fluxcd.io/requestedAt
// annotation, so that `weir reconcile` and webhook Receivers trigger a reconcile.
type ReconcileRequested struct{ predicate.Funcs }

// Update passes a change of the annotation.
func (ReconcileRequested) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	return e.ObjectNew.GetAnnotations()[compat.ReconcileRequestAnnotation] != e.ObjectOld.GetAnnotations()[compat.ReconcileRequestAnnotation]
}

// Create passes nothing: creation is the For watch's business.
func (ReconcileRequested) Create(event.CreateEvent) bool { return false }

// Delete passes nothing.
func (ReconcileRequested) Delete(event.DeleteEvent) bool { return false }

// Generic passes nothing.
func (ReconcileRequested) Generic(event.GenericEvent) bool { return false }

// ArtifactChanged passes a source whose artifact revision or digest changed, and the creation
// of one that already has an artifact (a cache sync after a restart).
type ArtifactChanged struct{ predicate.Funcs }

// Update passes a changed artifact.
func (ArtifactChanged) Update(e event.UpdateEvent) bool {
	return ArtifactID(e.ObjectOld) != ArtifactID(e.ObjectNew)
}

// Create passes a source that has an artifact.
func (ArtifactChanged) Create(e event.CreateEvent) bool { return ArtifactID(e.Object) != "" }

// Delete passes nothing.
func (ArtifactChanged) Delete(event.DeleteEvent) bool { return false }

// Generic passes nothing.
func (ArtifactChanged) Generic(event.GenericEvent) bool { return false }

// ArtifactID identifies the artifact of a source object ("revision|digest"), or "" when it
// has none or is not a source.
func ArtifactID(o any) string {
	var a *meta.Artifact
	switch s := o.(type) {
	case *sourcev1.GitRepository:
		a = s.Status.Artifact
	case *sourcev1.OCIRepository:
		a = s.Status.Artifact
	case *sourcev1.Bucket:
		a = s.Status.Artifact
	case *sourcev1.ExternalArtifact:
		a = s.Status.Artifact
	case *sourcev1.HelmRepository:
		a = s.Status.Artifact
	case *sourcev1.HelmChart:
		a = s.Status.Artifact
	}
	if a == nil {
		return ""
	}
	return a.Revision + "|" + a.Digest
}

// LabelsMatch passes objects whose labels match sel; a nil selector passes everything. It
// implements --watch-configs-label-selector: which ConfigMaps and Secrets trigger their users.
func LabelsMatch(sel labels.Selector) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		return sel == nil || sel.Matches(labels.Set(o.GetLabels()))
	})
}
