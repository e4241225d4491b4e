package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/registryauth"
	"github.com/weirgitops/weir/internal/source/git"
	"github.com/weirgitops/weir/internal/source/oci"
)

// Flux's reasons of OCIRepository failures.
const (
	ociPullFailedReason      = sourcev1.OCIPullFailedReason
	ociLayerFailedReason     = sourcev1.OCILayerOperationFailedReason
	readOperationFailed      = sourcev1.ReadOperationFailedReason
	invalidProviderReason    = sourcev1.InvalidProviderConfigurationReason
	defaultOCITimeout        = 60 * time.Second
	ociUserAgent             = "flux/v2"
	dockerConfigJSONKey      = corev1.DockerConfigJsonKey
	ociArtifactFileExtension = ".tar.gz"
)

// OCIRepositoryReconciler reconciles source.toolkit.fluxcd.io/v1 OCIRepository objects.
type OCIRepositoryReconciler struct {
	quietSteps[*sourcev1.OCIRepository, sourceOutcome]

	client.Client
	Store    *artifact.Store
	Recorder *event.Recorder
	Retry    *reconcile.Retry
	// TempDir is where layers are unpacked; the system temporary directory when empty.
	TempDir string
	// Limits bound manifests and layers.
	Limits oci.Limits

	// fetches shares one pull between the OCIRepositories of one manifest digest, layer
	// selection and ignore rules; annotations are the entries' data.
	fetches fetchCache[map[string]string]
}

// SetupWithManager registers the reconciler with the manager.
func (r *OCIRepositoryReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, concurrent int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("ocirepository").
		For(&sourcev1.OCIRepository{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		WithOptions(controllerOptions(concurrent)).
		Complete(&reconcile.Skeleton[*sourcev1.OCIRepository, sourceOutcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.OCIRepositoryKind,
			New: func() *sourcev1.OCIRepository { return &sourcev1.OCIRepository{} }, Steps: r,
		})
}

// Fields returns the OCIRepository's fields the skeleton reads and writes.
func (r *OCIRepositoryReconciler) Fields(obj *sourcev1.OCIRepository) reconcile.Fields {
	rev := ""
	if obj.Status.Artifact != nil {
		rev = obj.Status.Artifact.Revision
	}
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: rev,
	}
}

// Run resolves the ref and stores a new artifact when the digest or the content settings
// changed.
func (r *OCIRepositoryReconciler) Run(ctx context.Context, obj *sourcev1.OCIRepository, progress func(string)) sourceOutcome {
	err := r.reconcile(ctx, obj, progress)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(ociPullFailedReason, err)
	}
	return sourceOutcome{err: err}
}

// Summarize writes the outcome into the conditions.
func (r *OCIRepositoryReconciler) Summarize(obj *sourcev1.OCIRepository, out sourceOutcome, _ time.Duration) {
	msg := "no artifact"
	if obj.Status.Artifact != nil {
		msg = fmt.Sprintf("stored artifact for digest '%s'", obj.Status.Artifact.Revision)
	}
	summarizeSource(reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}, out.err, msg,
		ociPullFailedReason, ociLayerFailedReason, readOperationFailed, invalidProviderReason)
}

// Finalize removes the repository's artifacts from the store.
func (r *OCIRepositoryReconciler) Finalize(ctx context.Context, obj *sourcev1.OCIRepository) error {
	return deleteArtifacts(ctx, r.Store, storeObject(sourcev1.OCIRepositoryKind, obj))
}

// reconcile runs the steps: URL, credentials, ref resolution (one HEAD), and, when something
// changed, verification, pull, extract or copy, store and garbage collection.
func (r *OCIRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.OCIRepository, progress func(string)) error {
	repo, err := oci.ParseRepository(obj.Spec.URL, obj.Spec.Insecure)
	if err != nil {
		return reconcile.Stalled(compat.URLInvalidReason, fmt.Errorf("URL validation failed for '%s': %w", obj.Spec.URL, err))
	}
	op := obj.GetLayerOperation()
	if op != sourcev1.OCILayerExtract && op != sourcev1.OCILayerCopy {
		return reconcile.Stalled(ociLayerFailedReason, fmt.Errorf("unsupported layer operation: %s", op))
	}
	opts, err := r.options(ctx, obj)
	if err != nil {
		return err
	}
	timeout := defaultOCITimeout
	if obj.Spec.Timeout != nil {
		timeout = obj.Spec.Timeout.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	res, err := oci.Resolve(ctx, repo, ociRef(obj.Spec.Reference), opts)
	if err != nil {
		return resolveError(obj, err)
	}
	revision := res.Revision()
	if r.upToDate(obj, revision) {
		return r.verifyIfNeeded(ctx, obj, res, opts, false)
	}
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	msg := fmt.Sprintf("new revision '%s' for '%s'", revision, repo.Tag(orDefault(res.Tag, oci.DefaultTag)))
	if res.Tag == "" {
		msg = fmt.Sprintf("new revision '%s' for '%s'", revision, res.Ref)
	}
	if obj.Status.Artifact != nil {
		conds.True(compat.ArtifactOutdatedCondition, compat.NewRevisionReason, msg)
	}
	progress("building artifact: " + msg)
	if err := r.verifyIfNeeded(ctx, obj, res, opts, true); err != nil {
		return err
	}

	art, rec, err := r.fetch(ctx, obj, res, op, opts)
	if err != nil {
		return err
	}
	previous := ""
	if obj.Status.Artifact != nil {
		previous = obj.Status.Artifact.Revision
	}
	obj.Status.Artifact = artifactOf(rec)
	if ann := art.annotations; len(ann) > 0 {
		obj.Status.Artifact.Metadata = ann
	}
	obj.Status.URL = rec.URL
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	obj.Status.ObservedLayerSelector = obj.Spec.LayerSelector.DeepCopy()
	if _, err := r.Store.GC(ctx, storeObject(sourcev1.OCIRepositoryKind, obj), rec.Path); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "garbage collection of old artifacts failed")
	}
	if previous != revision {
		msg := fmt.Sprintf("stored artifact with revision '%s' from '%s'", revision, obj.Spec.URL)
		if src, orev := art.annotations[oci.SourceAnnotation], art.annotations[oci.RevisionAnnotation]; src != "" && orev != "" {
			msg += fmt.Sprintf(", origin source '%s', origin revision '%s'", src, orev)
		}
		meta := map[string]string{compat.RevisionMetaKey: revision, compat.DigestMetaKey: rec.Digest}
		r.Recorder.Normal(obj, "NewArtifact", meta, "%s", msg)
	}
	return nil
}

// upToDate reports whether the stored artifact already is what the spec asks for: same
// revision, ignore rules and layer selector, and still in the store.
func (r *OCIRepositoryReconciler) upToDate(obj *sourcev1.OCIRepository, revision string) bool {
	a := obj.Status.Artifact
	if a == nil || a.Revision != revision {
		return false
	}
	if !equalPtr(obj.Status.ObservedIgnore, obj.Spec.Ignore) || !equalSelector(obj.Status.ObservedLayerSelector, obj.Spec.LayerSelector) {
		return false
	}
	return storedAt(r.Store, a)
}

func equalSelector(a, b *sourcev1.OCILayerSelector) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// fetched is a pulled and stored layer.
type fetched struct {
	annotations map[string]string
}

// fetch stores the selected layer of the resolved artifact for obj. The registry is asked once
// per (manifest digest, layer selector, ignore rules): other OCIRepositories pointing at the
// same artifact get a copy of the stored file.
func (r *OCIRepositoryReconciler) fetch(ctx context.Context, obj *sourcev1.OCIRepository, res oci.Resolved,
	op string, opts oci.Options) (fetched, artifact.Record, error) {
	file := res.Digest.Hex + ociArtifactFileExtension
	key := strings.Join([]string{res.Digest.String(), obj.GetLayerMediaType(), op, ignoreKey(obj.Spec.Ignore)}, "|")
	self := storeObject(sourcev1.OCIRepositoryKind, obj)
	revision := res.Revision()
	entry, err := r.fetches.share(ctx, r.Store, self, key, file, revision, func() (fetchEntry[map[string]string], error) {
		f, rec, err := r.pull(ctx, self, file, revision, res, obj, op, opts)
		return fetchEntry[map[string]string]{rec: rec, data: f.annotations}, err
	}, nil)
	if err != nil {
		return fetched{}, artifact.Record{}, err
	}
	return fetched{annotations: entry.data}, entry.rec, nil
}

// pull downloads the selected layer and stores it: as it is for operation copy, unpacked and
// archived again (with the ignore rules) for extract.
func (r *OCIRepositoryReconciler) pull(ctx context.Context, self artifact.Object, file, revision string, res oci.Resolved,
	obj *sourcev1.OCIRepository, op string, opts oci.Options) (fetched, artifact.Record, error) {
	art, err := oci.Pull(ctx, res, obj.GetLayerMediaType(), r.Limits, opts)
	if err != nil {
		switch {
		case errors.Is(err, oci.ErrNoLayer), errors.Is(err, oci.ErrNotArtifact):
			return fetched{}, artifact.Record{}, reconcile.Failed(ociLayerFailedReason, err)
		case errors.Is(err, oci.ErrAuthentication):
			return fetched{}, artifact.Record{}, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("failed to pull artifact from '%s': %w", obj.Spec.URL, err))
		}
		return fetched{}, artifact.Record{}, reconcile.Failed(ociPullFailedReason, fmt.Errorf("failed to pull artifact from '%s': %w", obj.Spec.URL, err))
	}
	out := fetched{annotations: art.Annotations()}
	blob, err := art.Open()
	if err != nil {
		return out, artifact.Record{}, reconcile.Failed(ociPullFailedReason, fmt.Errorf("failed to pull artifact from '%s': %w", obj.Spec.URL, err))
	}
	defer blob.Close()
	if op == sourcev1.OCILayerCopy {
		rec, err := r.Store.Put(ctx, self, file, revision, blob)
		if err != nil {
			return out, rec, layerError("failed to copy layer from artifact", err)
		}
		return out, rec, nil
	}
	tmp, err := os.MkdirTemp(r.TempDir, "ocirepository-")
	if err != nil {
		return out, artifact.Record{}, reconcile.Failed(compat.StorageOperationFailedReason, fmt.Errorf("create temporary directory: %w", err))
	}
	defer os.RemoveAll(tmp)
	dir := tmp + "/content"
	if err := artifact.ExtractTarGz(ctx, blob, dir, artifact.Limits{MaxSize: r.Limits.MaxLayerSize}); err != nil {
		return out, artifact.Record{}, layerError("failed to extract layer contents from artifact", err)
	}
	filter, err := git.NewFilter(dir, obj.Spec.Ignore)
	if err != nil {
		return out, artifact.Record{}, reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("read ignore rules: %w", err))
	}
	rec, err := r.Store.Archive(ctx, self, file, revision, dir, filter.Excluded)
	if err != nil {
		return out, rec, reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("unable to archive artifact to storage: %w", err))
	}
	return out, rec, nil
}

// layerError classifies a copy or extraction failure: a bad registry answer is a pull failure,
// anything about the content a layer operation failure.
func layerError(what string, err error) error {
	if errors.Is(err, oci.ErrAuthentication) {
		return reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("%s: %w", what, err))
	}
	var ioErr interface{ Timeout() bool }
	if errors.As(err, &ioErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return reconcile.Failed(ociPullFailedReason, fmt.Errorf("%s: %w", what, err))
	}
	return reconcile.Failed(ociLayerFailedReason, fmt.Errorf("%s: %w", what, err))
}

// resolveError classifies a failure to resolve the ref into Flux's reasons.
func resolveError(obj *sourcev1.OCIRepository, err error) error {
	switch {
	case errors.Is(err, oci.ErrAuthentication):
		return reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to determine artifact digest: %w", err))
	case errors.Is(err, oci.ErrInvalidRef), obj.Spec.Reference != nil && obj.Spec.Reference.Digest == "" && obj.Spec.Reference.SemVer != "":
		return reconcile.Failed(readOperationFailed, fmt.Errorf("failed to determine the artifact tag for '%s': %w", obj.Spec.URL, err))
	}
	return reconcile.Failed(ociPullFailedReason, fmt.Errorf("failed to determine artifact digest: %w", err))
}

func ociRef(ref *sourcev1.OCIRepositoryRef) oci.Ref {
	if ref == nil {
		return oci.Ref{}
	}
	return oci.Ref{Digest: ref.Digest, SemVer: ref.SemVer, SemverFilter: ref.SemverFilter, Tag: ref.Tag}
}

func ignoreKey(s *string) string {
	if s == nil {
		return "\x00default"
	}
	return *s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// options builds the registry options of an OCIRepository from its Secrets: spec.secretRef
// (a Docker config JSON), the image pull Secrets of spec.serviceAccountName, certSecretRef
// (ca.crt, tls.crt, tls.key), proxySecretRef (address, username, password) and insecure.
func (r *OCIRepositoryReconciler) options(ctx context.Context, obj *sourcev1.OCIRepository) (oci.Options, error) {
	opts := oci.Options{Insecure: obj.Spec.Insecure, UserAgent: ociUserAgent}
	switch obj.Spec.Provider {
	case "", sourcev1.GenericOCIProvider:
	default:
		if obj.Spec.SecretRef == nil {
			return opts, reconcile.Stalled(invalidProviderReason, fmt.Errorf(
				"provider '%s' authenticates with the cloud's workload identity, which weir does not support: use provider 'generic' with spec.secretRef or spec.serviceAccountName", obj.Spec.Provider))
		}
	}
	keys, err := pullSecrets(ctx, r.Client, obj.Namespace, obj.Spec.SecretRef, obj.Spec.ServiceAccountName)
	if err != nil {
		return opts, err
	}
	if len(keys) > 0 {
		opts.Keychain = keys
	}
	tlsOpts, err := certOptions(ctx, r.Client, obj.Namespace, obj.Spec.CertSecretRef)
	if err != nil {
		return opts, err
	}
	opts.CACert, opts.ClientCert, opts.ClientKey = tlsOpts.CACert, tlsOpts.ClientCert, tlsOpts.ClientKey
	if obj.Spec.ProxySecretRef != nil {
		if opts.Proxy, err = proxyURL(ctx, r.Client, obj.Namespace, obj.Spec.ProxySecretRef.Name); err != nil {
			return opts, err
		}
	}
	if _, err := opts.Transport(); err != nil {
		return opts, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to generate transport for '%s': %w", obj.Spec.URL, err))
	}
	return opts, nil
}

// pullSecrets, certOptions and proxyURL read registry Secrets; see package registryauth.
func pullSecrets(ctx context.Context, c client.Reader, namespace string, ref *meta.LocalObjectReference, serviceAccount string) (oci.Keychain, error) {
	return registryauth.PullSecrets(ctx, c, namespace, ref, serviceAccount)
}

func certOptions(ctx context.Context, c client.Reader, namespace string, ref *meta.LocalObjectReference) (oci.Options, error) {
	return registryauth.CertOptions(ctx, c, namespace, ref)
}

func proxyURL(ctx context.Context, c client.Reader, namespace, name string) (string, error) {
	return registryauth.ProxyURL(ctx, c, namespace, name)
}
