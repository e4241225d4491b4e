package kustomize

import (
	"context"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/weirgitops/weir/internal/depends"
	"github.com/weirgitops/weir/internal/features"
)

// checkDependencies reports the first dependency that is not ready (see depends.Checker). A
// dependency that uses the same source must also have applied the revision this Kustomization
// is about to apply, as in Flux.
func (r *Reconciler) checkDependencies(ctx context.Context, ks *kustomizev1.Kustomization, src sourceArtifact) error {
	c := depends.Checker[*kustomizev1.Kustomization]{
		Reader:               r.Client,
		New:                  func() *kustomizev1.Kustomization { return &kustomizev1.Kustomization{} },
		ObservedGeneration:   func(k *kustomizev1.Kustomization) int64 { return k.Status.ObservedGeneration },
		NoCrossNamespaceRefs: r.NoCrossNamespaceRefs,
		RequeueDependency:    r.RequeueDependency,
		Additive:             r.Gates.Enabled(features.AdditiveCELDependencyCheck),
		Also: func(ks, dep *kustomizev1.Kustomization) string {
			if sourceRefKey(dep) == sourceRefKey(ks) && dep.Status.LastAppliedRevision != src.artifact.Revision {
				return "revision is not up to date"
			}
			return ""
		},
	}
	return c.Check(ctx, ks)
}
