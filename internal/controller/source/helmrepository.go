package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	weirevent "github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/helm"
	"github.com/weirgitops/weir/internal/source/oci"
)

const (
	indexationFailedReason = sourcev1.IndexationFailedReason
	defaultHelmTimeout     = 60 * time.Second
	defaultHelmInterval    = time.Minute
)

// HelmRepositoryReconciler reconciles source.toolkit.fluxcd.io/v1 HelmRepository objects of
// type default (an HTTP(S) index). Those of type oci have no status, as in Flux: HelmCharts
// read their URL and credentials directly.
type HelmRepositoryReconciler struct {
	quietSteps[*sourcev1.HelmRepository, sourceOutcome]

	client.Client
	Store    *artifact.Store
	Recorder *weirevent.Recorder
	Retry    *reconcile.Retry
	// MaxIndexSize bounds index.yaml (default 50 MiB).
	MaxIndexSize int64
	// Indexes holds parsed indexes, shared with the HelmChart controller: a new index
	// revision is parsed once, here, and its charts find it parsed.
	Indexes *helm.IndexCache
}

// httpRepository passes HelmRepositories of type default, and those of type oci that still
// carry a finalizer or status from an earlier type (to be made static).
var httpRepository = predicate.NewPredicateFuncs(func(o client.Object) bool {
	r, ok := o.(*sourcev1.HelmRepository)
	if !ok {
		return false
	}
	if r.Spec.Type != sourcev1.HelmRepositoryTypeOCI {
		return true
	}
	return controllerutil.ContainsFinalizer(r, compat.Finalizer) || r.Status.Artifact != nil || len(r.Status.Conditions) > 0
})

// helmRepositories dispatches a HelmRepository: those of type oci are static objects (no
// finalizer, no status), the others go through the skeleton.
type helmRepositories struct {
	r        *HelmRepositoryReconciler
	skeleton ctrlreconcile.Reconciler
}

// Reconcile makes an oci HelmRepository static, or reconciles a default one.
func (h helmRepositories) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var obj sourcev1.HelmRepository
	if err := h.r.Get(ctx, req.NamespacedName, &obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if obj.Spec.Type != sourcev1.HelmRepositoryTypeOCI {
		return h.skeleton.Reconcile(ctx, req)
	}
	// As Flux: delete what the default type stored, drop the finalizer, clear the status.
	if err := h.r.Store.Delete(ctx, storeObject(sourcev1.HelmRepositoryKind, &obj)); err != nil {
		return ctrl.Result{}, err
	}
	if len(obj.Status.Conditions) > 0 || obj.Status.Artifact != nil || obj.Status.URL != "" || obj.Status.ObservedGeneration != 0 {
		base := obj.DeepCopy()
		obj.Status = sourcev1.HelmRepositoryStatus{}
		if err := h.r.Status().Patch(ctx, &obj, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if controllerutil.ContainsFinalizer(&obj, compat.Finalizer) {
		base := obj.DeepCopy()
		controllerutil.RemoveFinalizer(&obj, compat.Finalizer)
		if err := h.r.Patch(ctx, &obj, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *HelmRepositoryReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, concurrent int) error {
	if r.Indexes == nil {
		r.Indexes = &helm.IndexCache{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("helmrepository").
		For(&sourcev1.HelmRepository{}, builder.WithPredicates(httpRepository, predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}, typeChanged{}))).
		WithOptions(controllerOptions(concurrent)).
		Complete(helmRepositories{r: r, skeleton: &reconcile.Skeleton[*sourcev1.HelmRepository, sourceOutcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.HelmRepositoryKind,
			New: func() *sourcev1.HelmRepository { return &sourcev1.HelmRepository{} }, Steps: r,
		}})
}

// typeChanged passes a HelmRepository that changed type.
type typeChanged struct{ predicate.Funcs }

// Update passes a change of spec.type.
func (typeChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*sourcev1.HelmRepository)
	n, ok2 := e.ObjectNew.(*sourcev1.HelmRepository)
	return ok1 && ok2 && o.Spec.Type != n.Spec.Type
}

// Fields returns the HelmRepository's fields the skeleton reads and writes.
func (r *HelmRepositoryReconciler) Fields(obj *sourcev1.HelmRepository) reconcile.Fields {
	rev := ""
	if obj.Status.Artifact != nil {
		rev = obj.Status.Artifact.Revision
	}
	interval := obj.Spec.Interval.Duration
	if interval == 0 {
		interval = defaultHelmInterval
	}
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: interval, RetryInterval: reconcile.BackoffOnly, Revision: rev,
	}
}

// Run fetches the index and stores it when its digest changed.
func (r *HelmRepositoryReconciler) Run(ctx context.Context, obj *sourcev1.HelmRepository, progress func(string)) sourceOutcome {
	err := r.reconcile(ctx, obj, progress)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(indexationFailedReason, err)
	}
	return sourceOutcome{err: err}
}

// Summarize writes the outcome into the conditions.
func (r *HelmRepositoryReconciler) Summarize(obj *sourcev1.HelmRepository, out sourceOutcome, _ time.Duration) {
	msg := "no artifact"
	if obj.Status.Artifact != nil {
		msg = fmt.Sprintf("stored artifact: revision '%s'", obj.Status.Artifact.Revision)
	}
	summarizeSource(reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}, out.err, msg,
		indexationFailedReason)
}

// Finalize removes the repository's artifacts from the store.
func (r *HelmRepositoryReconciler) Finalize(ctx context.Context, obj *sourcev1.HelmRepository) error {
	return deleteArtifacts(ctx, r.Store, storeObject(sourcev1.HelmRepositoryKind, obj))
}

func (r *HelmRepositoryReconciler) reconcile(ctx context.Context, obj *sourcev1.HelmRepository, progress func(string)) error {
	if strings.HasPrefix(obj.Spec.URL, oci.Prefix) {
		return reconcile.Stalled(compat.URLInvalidReason, fmt.Errorf(
			"invalid Helm repository URL: 'oci' URL scheme cannot be used with 'default' HelmRepository type"))
	}
	if _, err := helm.ParseRepositoryURL(obj.Spec.URL); err != nil {
		return reconcile.Stalled(compat.URLInvalidReason, fmt.Errorf("invalid Helm repository URL: %w", err))
	}
	c, err := helmClient(ctx, r.Client, obj)
	if err != nil {
		return err
	}
	timeout := defaultHelmTimeout
	if obj.Spec.Timeout != nil {
		timeout = obj.Spec.Timeout.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, err := c.FetchIndex(ctx, obj.Spec.URL, r.MaxIndexSize)
	if err != nil {
		if errors.Is(err, helm.ErrAuthentication) {
			return reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to fetch Helm repository index: %w", err))
		}
		return reconcile.Failed(indexationFailedReason, fmt.Errorf("failed to fetch Helm repository index: %w", err))
	}
	revision := helm.Digest(data)
	if a := obj.Status.Artifact; a != nil && a.Revision == revision && storedAt(r.Store, a) {
		return nil
	}
	// A new revision is parsed once, into the cache its charts read (keyed by the digest of
	// the bytes stored below, which is the revision).
	if _, err := r.Indexes.Get(revision, func() ([]byte, error) { return data, nil }); err != nil {
		return reconcile.Failed(indexationFailedReason, fmt.Errorf("failed to load Helm repository from index YAML: %w", err))
	}
	if obj.Status.Artifact != nil {
		reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}.True(
			compat.ArtifactOutdatedCondition, compat.NewRevisionReason, fmt.Sprintf("new index revision '%s'", revision))
	}
	progress(fmt.Sprintf("building artifact: new index revision '%s'", revision))
	file := "index-" + strings.TrimPrefix(revision, "sha256:") + ".yaml"
	rec, err := r.Store.Put(ctx, storeObject(sourcev1.HelmRepositoryKind, obj), file, revision, bytes.NewReader(data))
	if err != nil {
		return reconcile.Failed(compat.StorageOperationFailedReason, fmt.Errorf("unable to save artifact to storage: %w", err))
	}
	previous := ""
	if obj.Status.Artifact != nil {
		previous = obj.Status.Artifact.Revision
	}
	obj.Status.Artifact = artifactOf(rec)
	obj.Status.URL = rec.URL
	if _, err := r.Store.GC(ctx, storeObject(sourcev1.HelmRepositoryKind, obj), rec.Path); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "garbage collection of old artifacts failed")
	}
	if previous != revision {
		r.Recorder.Normal(obj, "NewArtifact", map[string]string{compat.RevisionMetaKey: revision, compat.DigestMetaKey: rec.Digest},
			"stored fetched index of size %s from '%s'", humanSize(len(data)), obj.Spec.URL)
	}
	return nil
}

// helmClient builds the HTTP client of a HelmRepository from its Secrets: basic auth
// (username, password) and TLS (the deprecated certFile/keyFile/caFile keys) in secretRef,
// TLS in certSecretRef (which wins), passCredentials.
func helmClient(ctx context.Context, c client.Reader, obj *sourcev1.HelmRepository) (helm.Client, error) {
	hc := helm.Client{PassCredentials: obj.Spec.PassCredentials, UserAgent: "flux/v2"}
	var tlsOpts oci.Options
	if obj.Spec.SecretRef != nil {
		s, err := getSecret(ctx, c, obj.Namespace, obj.Spec.SecretRef.Name)
		if err != nil {
			return hc, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get authentication secret '%s/%s': %w", obj.Namespace, obj.Spec.SecretRef.Name, err))
		}
		hc.Username, hc.Password = string(s.Data["username"]), string(s.Data["password"])
		if (hc.Username == "") != (hc.Password == "") {
			return hc, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("invalid '%s' secret data: required fields 'username' and 'password'", s.Name))
		}
		a := authFromSecret(s)
		tlsOpts.CACert, tlsOpts.ClientCert, tlsOpts.ClientKey = a.CACert, a.ClientCert, a.ClientKey
	}
	if obj.Spec.CertSecretRef != nil {
		o, err := certOptions(ctx, c, obj.Namespace, obj.Spec.CertSecretRef)
		if err != nil {
			return hc, err
		}
		tlsOpts.CACert, tlsOpts.ClientCert, tlsOpts.ClientKey = o.CACert, o.ClientCert, o.ClientKey
	}
	t, err := tlsOpts.Transport()
	if err != nil {
		return hc, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to create TLS config: %w", err))
	}
	hc.Transport = t
	return hc, nil
}

// humanSize renders a byte count as flux does in its index events: decimal units, four
// significant digits ("30.88kB").
func humanSize(n int) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	v, i := float64(n), 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", v, units[i])
}
