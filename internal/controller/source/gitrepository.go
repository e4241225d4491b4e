package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/gitauth"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

// ControllerName is the reporting controller of source events, Flux's name for it.
const ControllerName = "source-controller"

// includeIndex indexes GitRepositories by the repositories they include.
const includeIndex = ".spec.include.repository"

// gitSecretsIndex indexes GitRepositories by the Secrets they read: spec.secretRef,
// spec.verify.secretRef and spec.proxySecretRef.
const gitSecretsIndex = ".spec.secrets"

// defaultGitTimeout is Flux's default spec.timeout for Git operations.
const defaultGitTimeout = 60 * time.Second

// GitRepositoryReconciler reconciles source.toolkit.fluxcd.io/v1 GitRepository objects.
type GitRepositoryReconciler struct {
	quietSteps[*sourcev1.GitRepository, sourceOutcome]

	client.Client
	Store    *artifact.Store
	Recorder *event.Recorder
	// TempDir is where clones are made; the system temporary directory when empty.
	TempDir string
	// Retry spaces the retries of failing GitRepositories and raises tiny intervals.
	Retry *reconcile.Retry
	// ConfigsSelector, when set, limits the Secrets whose changes trigger the GitRepositories
	// that read them (--watch-configs-label-selector); nil watches every referenced one.
	ConfigsSelector labels.Selector

	// GitAuth reads the Secrets and keeps the GitHub App tokens; shared with the image
	// automation, which pushes to the same repositories. Nil means one of its own.
	GitAuth     *gitauth.Resolver
	gitAuthOnce sync.Once

	// fetches shares one fetch and archive between the GitRepositories whose artifacts would be
	// the same (gitFetchKey); the entries' data is the fetched commit.
	fetches fetchCache[git.CommitInfo]
}

// SetupWithManager registers the reconciler with the manager.
func (r *GitRepositoryReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrent int) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.GitRepository{}, includeIndex,
		func(o client.Object) []string {
			repo := o.(*sourcev1.GitRepository)
			names := make([]string, 0, len(repo.Spec.Include))
			for _, inc := range repo.Spec.Include {
				names = append(names, inc.GitRepositoryRef.Name)
			}
			return names
		}); err != nil {
		return fmt.Errorf("index %s: %w", includeIndex, err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.GitRepository{}, gitSecretsIndex,
		func(o client.Object) []string { return secretNames(o.(*sourcev1.GitRepository)) }); err != nil {
		return fmt.Errorf("index %s: %w", gitSecretsIndex, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("gitrepository").
		For(&sourcev1.GitRepository{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.includers),
			builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretUsers), builder.OnlyMetadata,
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}, reconcile.LabelsMatch(r.ConfigsSelector))).
		WithOptions(controllerOptions(concurrent)).
		Complete(r.skeleton())
}

// includers maps a GitRepository to the ones that include it.
func (r *GitRepositoryReconciler) includers(ctx context.Context, o client.Object) []ctrl.Request {
	var list sourcev1.GitRepositoryList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{includeIndex: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for _, item := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: item.Namespace, Name: item.Name}})
	}
	return reqs
}

// secretNames lists the Secrets a GitRepository reads.
func secretNames(obj *sourcev1.GitRepository) []string {
	var names []string
	if obj.Spec.SecretRef != nil {
		names = append(names, obj.Spec.SecretRef.Name)
	}
	if obj.Spec.Verification != nil && obj.Spec.Verification.SecretRef.Name != "" {
		names = append(names, obj.Spec.Verification.SecretRef.Name)
	}
	if obj.Spec.ProxySecretRef != nil {
		names = append(names, obj.Spec.ProxySecretRef.Name)
	}
	return names
}

// secretUsers maps a Secret to the GitRepositories that read it, so that rotated credentials,
// keys or proxy settings are used at once rather than at the next interval.
func (r *GitRepositoryReconciler) secretUsers(ctx context.Context, o client.Object) []ctrl.Request {
	var list sourcev1.GitRepositoryList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{gitSecretsIndex: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for _, item := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: item.Namespace, Name: item.Name}})
	}
	return reqs
}

// skeleton returns the Reconciler of GitRepositories: weir's one skeleton with r's steps.
func (r *GitRepositoryReconciler) skeleton() *reconcile.Skeleton[*sourcev1.GitRepository, sourceOutcome] {
	return &reconcile.Skeleton[*sourcev1.GitRepository, sourceOutcome]{
		Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
		GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.GitRepositoryKind,
		New: func() *sourcev1.GitRepository { return &sourcev1.GitRepository{} }, Steps: r,
	}
}

// Fields returns the GitRepository's fields the skeleton reads and writes.
func (r *GitRepositoryReconciler) Fields(obj *sourcev1.GitRepository) reconcile.Fields {
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: artifactRevision(obj),
	}
}

// Run fetches the repository and stores a new artifact when the revision or the content
// settings changed. A failure without a reason of its own is a Git operation failure.
func (r *GitRepositoryReconciler) Run(ctx context.Context, obj *sourcev1.GitRepository, progress func(string)) sourceOutcome {
	err := r.reconcile(ctx, obj, progress)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(compat.GitOperationFailedReason, err)
	}
	return sourceOutcome{err: err}
}

// Summarize writes the outcome into the conditions.
func (r *GitRepositoryReconciler) Summarize(obj *sourcev1.GitRepository, out sourceOutcome, _ time.Duration) {
	r.summarize(obj, out.err)
}

// Finalize removes the repository's artifacts from the store.
func (r *GitRepositoryReconciler) Finalize(ctx context.Context, obj *sourcev1.GitRepository) error {
	return deleteArtifacts(ctx, r.Store, storeObject(sourcev1.GitRepositoryKind, obj))
}

// Forget drops the GitHub App token cached for a deleted repository.
func (r *GitRepositoryReconciler) Forget(key types.NamespacedName) {
	r.gitAuth().Forget(key.Namespace + "/" + key.Name)
}

// artifactRevision is the revision of the stored artifact, or "" when there is none.
func artifactRevision(obj *sourcev1.GitRepository) string {
	if obj.Status.Artifact == nil {
		return ""
	}
	return obj.Status.Artifact.Revision
}

// reconcile runs the steps: credentials, ref listing, and, when something changed, fetch,
// verification, includes, archive (the fetch and archive shared with the GitRepositories that
// would store the same artifact, see storeRevision) and garbage collection. As in Flux, ArtifactOutdated says
// while the artifact is rebuilt why it is (the included artifacts changed, or the upstream
// revision did), written at once through progress; it goes when the new artifact is stored.
func (r *GitRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.GitRepository, progress func(string)) error {
	timeout := defaultGitTimeout
	if obj.Spec.Timeout != nil {
		timeout = obj.Spec.Timeout.Duration
	}
	opts := git.Options{
		URL:               obj.Spec.URL,
		Reference:         reference(obj.Spec.Reference),
		RecurseSubmodules: obj.Spec.RecurseSubmodules,
		SparseCheckout:    obj.Spec.SparseCheckout,
	}
	if _, err := git.ParseURL(obj.Spec.URL); err != nil {
		return reconcile.Stalled(compat.URLInvalidReason, err)
	}
	auth, err := r.gitAuth().Auth(ctx, r.Client, obj)
	if err != nil {
		return err
	}
	opts.Auth = auth

	fetchCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rev, err := git.LatestRevision(fetchCtx, opts)
	if err != nil {
		return fetchError(err)
	}
	included, err := r.includedArtifacts(ctx, obj)
	if err != nil {
		return err
	}
	if r.upToDate(obj, rev.String(), included) {
		return nil
	}

	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	conds.Progressing(compat.ProgressingReason, fmt.Sprintf("building artifact: new upstream revision '%s'", rev.String()))
	if obj.Status.IncludedArtifacts != nil && includesDiffer(obj.Status.IncludedArtifacts, included) {
		const msg = "included artifacts differ from last observed includes"
		conds.True(compat.ArtifactOutdatedCondition, compat.IncludeChangeReason, msg)
		progress("building artifact: " + msg)
		// Flux drops it once written: a new revision, if any, is said next.
		conds.Delete(compat.ArtifactOutdatedCondition)
	}

	accept := func(info git.CommitInfo) error {
		if err := r.verify(ctx, obj, info); err != nil {
			return err
		}
		if a := obj.Status.Artifact; a == nil || a.Revision != info.Revision.String() {
			msg := fmt.Sprintf("new upstream revision '%s'", info.Revision.String())
			if a != nil {
				conds.True(compat.ArtifactOutdatedCondition, compat.NewRevisionReason, msg)
			}
			progress("building artifact: " + msg)
		}
		return nil
	}
	info, rec, err := r.storeRevision(ctx, fetchCtx, obj, opts, rev, included, accept)
	if err != nil {
		return err
	}
	revision := info.Revision.String()
	previous := ""
	if obj.Status.Artifact != nil {
		previous = obj.Status.Artifact.Revision
	}
	obj.Status.Artifact = artifactOf(rec)
	obj.Status.IncludedArtifacts = included
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	obj.Status.ObservedRecurseSubmodules = obj.Spec.RecurseSubmodules
	obj.Status.ObservedInclude = obj.Spec.Include
	obj.Status.ObservedSparseCheckout = obj.Spec.SparseCheckout
	if _, err := r.Store.GC(ctx, storeObject(sourcev1.GitRepositoryKind, obj), rec.Path); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "garbage collection of old artifacts failed")
	}
	if previous != revision {
		r.Recorder.Normal(obj, "NewArtifact", map[string]string{compat.RevisionMetaKey: revision, compat.DigestMetaKey: rec.Digest},
			"stored artifact for commit '%s'", firstLine(info.Message))
	}
	return nil
}

// upToDate reports whether the stored artifact already is what the spec asks for, so that an
// unchanged repository costs one ref listing and nothing more.
func (r *GitRepositoryReconciler) upToDate(obj *sourcev1.GitRepository, revision string, included []*meta.Artifact) bool {
	a := obj.Status.Artifact
	if a == nil || a.Revision != revision {
		return false
	}
	if !equalPtr(obj.Status.ObservedIgnore, obj.Spec.Ignore) ||
		obj.Status.ObservedRecurseSubmodules != obj.Spec.RecurseSubmodules ||
		!equalSlices(obj.Status.ObservedSparseCheckout, obj.Spec.SparseCheckout) ||
		!equalIncludes(obj.Status.ObservedInclude, obj.Spec.Include) ||
		includesDiffer(obj.Status.IncludedArtifacts, included) {
		return false
	}
	if obj.Spec.Verification != nil && (obj.Status.SourceVerificationMode == nil ||
		string(*obj.Status.SourceVerificationMode) != verifyMode(obj.Spec.Verification.Mode)) {
		return false
	}
	return storedAt(r.Store, a)
}

// includesDiffer reports whether the included artifacts are not the ones last stored with.
func includesDiffer(stored, current []*meta.Artifact) bool {
	if len(stored) != len(current) {
		return true
	}
	for i := range current {
		if stored[i] == nil || current[i] == nil || stored[i].Digest != current[i].Digest {
			return true
		}
	}
	return false
}

// includedArtifacts returns the artifacts of the included repositories, in spec order.
func (r *GitRepositoryReconciler) includedArtifacts(ctx context.Context, obj *sourcev1.GitRepository) ([]*meta.Artifact, error) {
	out := make([]*meta.Artifact, 0, len(obj.Spec.Include))
	for _, inc := range obj.Spec.Include {
		var dep sourcev1.GitRepository
		key := client.ObjectKey{Namespace: obj.Namespace, Name: inc.GitRepositoryRef.Name}
		if err := r.Get(ctx, key, &dep); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, reconcile.Failed(compat.IncludeUnavailableReason, fmt.Errorf("included GitRepository '%s' not found", key))
			}
			return nil, reconcile.Failed(compat.IncludeUnavailableReason, fmt.Errorf("get included GitRepository '%s': %w", key, err))
		}
		if dep.Status.Artifact == nil {
			return nil, reconcile.Failed(compat.IncludeUnavailableReason, fmt.Errorf("included GitRepository '%s' has no artifact yet", key))
		}
		out = append(out, dep.Status.Artifact.DeepCopy())
	}
	return out, nil
}

// fetchError classifies a fetch failure into Flux's reasons.
func fetchError(err error) error {
	switch {
	case errors.Is(err, git.ErrInvalidURL):
		return reconcile.Stalled(compat.URLInvalidReason, err)
	case errors.Is(err, git.ErrAuthentication):
		return reconcile.Failed(compat.AuthenticationFailedReason, err)
	default:
		return reconcile.Failed(compat.GitOperationFailedReason, err)
	}
}

// summarize writes the outcome into the conditions and the bookkeeping fields.
func (r *GitRepositoryReconciler) summarize(obj *sourcev1.GitRepository, err error) {
	msg := "no artifact"
	if obj.Status.Artifact != nil {
		msg = fmt.Sprintf("stored artifact for revision '%s'", obj.Status.Artifact.Revision)
	}
	summarizeSource(reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}, err, msg,
		compat.GitOperationFailedReason, compat.InvalidProviderConfigurationReason)
}

func reference(ref *sourcev1.GitRepositoryRef) git.Reference {
	if ref == nil {
		return git.Reference{}
	}
	return git.Reference{Branch: ref.Branch, Tag: ref.Tag, SemVer: ref.SemVer, Name: ref.Name, Commit: ref.Commit}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func equalSlices(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalIncludes(a, b []sourcev1.GitRepositoryInclude) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// gitAuth returns the credential reader, creating one when none was given.
func (r *GitRepositoryReconciler) gitAuth() *gitauth.Resolver {
	r.gitAuthOnce.Do(func() {
		if r.GitAuth == nil {
			r.GitAuth = &gitauth.Resolver{}
		}
	})
	return r.GitAuth
}

// secret reads a Secret of the object's namespace.
func (r *GitRepositoryReconciler) secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return getSecret(ctx, r.Client, namespace, name)
}
