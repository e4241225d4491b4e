package kustomize

import (
	"context"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/sourceref"
)

// sourceArtifact is what a Kustomization builds from.
type sourceArtifact struct {
	kind, namespace, name string
	artifact              *meta.Artifact
}

func (s sourceArtifact) String() string { return s.kind + "/" + s.namespace + "/" + s.name }

// record is the artifact as the store knows it.
func (s sourceArtifact) record() artifact.Record {
	rec := artifact.Record{Path: s.artifact.Path, URL: s.artifact.URL, Revision: s.artifact.Revision,
		Digest: s.artifact.Digest, LastUpdateTime: s.artifact.LastUpdateTime.Time}
	if s.artifact.Size != nil {
		rec.Size = *s.artifact.Size
	}
	return rec
}

// originRevision is the revision of the origin of an OCI artifact, when it says.
func (s sourceArtifact) originRevision() string {
	if s.artifact.Metadata == nil {
		return ""
	}
	return s.artifact.Metadata["org.opencontainers.image.revision"]
}

// sourceKey is the index key of a source reference.
func sourceKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// sourceRefKey returns the index key of a Kustomization's source.
func sourceRefKey(ks *kustomizev1.Kustomization) string {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	return sourceKey(ks.Spec.SourceRef.Kind, ns, ks.Spec.SourceRef.Name)
}

// getSource reads the Kustomization's source and its artifact. A missing source or artifact is
// a waiting error: the source's next artifact triggers the Kustomization at once.
func (r *Reconciler) getSource(ctx context.Context, ks *kustomizev1.Kustomization) (sourceArtifact, error) {
	ref := ks.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	if r.NoCrossNamespaceRefs && ns != ks.Namespace {
		return sourceArtifact{}, reconcile.Stalled(compat.AccessDeniedReason,
			fmt.Errorf("can't access '%s/%s/%s', cross-namespace references have been blocked", ref.Kind, ns, ref.Name))
	}
	src := sourceArtifact{kind: ref.Kind, namespace: ns, name: ref.Name}
	if ref.Kind == sourcev1.ExternalArtifactKind && !r.Gates.Enabled(features.ExternalArtifact) {
		return src, reconcile.Stalled(compat.AccessDeniedReason,
			fmt.Errorf("can't access '%s', %s feature gate is disabled", src, features.ExternalArtifact))
	}
	if !r.acceptsSource(ref.Kind) {
		return src, reconcile.Stalled(compat.ArtifactFailedReason, fmt.Errorf("source kind '%s' is not supported", ref.Kind))
	}
	art, err := sourceref.Artifact(ctx, r.Client, r.Scheme(), sourceref.Ref{Kind: ref.Kind, Namespace: ns, Name: ref.Name})
	switch {
	case apierrors.IsNotFound(err):
		return src, reconcile.Waiting(compat.ArtifactFailedReason, r.RequeueDependency,
			fmt.Errorf("Source '%s' not found", src)) //nolint:staticcheck // Flux's message, word for word
	case err != nil:
		return src, reconcile.Failed(compat.ArtifactFailedReason, fmt.Errorf("get source '%s': %w", src, err))
	}
	src.artifact = art
	if src.artifact == nil {
		return src, reconcile.Waiting(compat.ArtifactFailedReason, r.RequeueDependency,
			fmt.Errorf("Source artifact not found, retrying in %s", r.RequeueDependency)) //nolint:staticcheck // Flux's message
	}
	return src, nil
}

// acceptsSource reports whether a Kustomization may build from a source of kind:
// GitRepository, OCIRepository, Bucket and ExternalArtifact.
func (r *Reconciler) acceptsSource(kind string) bool {
	switch kind {
	case sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.BucketKind, sourcev1.ExternalArtifactKind:
		return true
	}
	return false
}

// acquire unpacks the source's artifact, shared with every other user of it: from weir's store,
// or downloaded from its URL for an ExternalArtifact, whose artifacts other controllers serve.
func (r *Reconciler) acquire(ctx context.Context, src sourceArtifact) (string, func(), error) {
	if src.kind == sourcev1.ExternalArtifactKind {
		return r.workspaces.AcquireURL(ctx, src.record())
	}
	return r.workspaces.Acquire(ctx, src.record())
}
