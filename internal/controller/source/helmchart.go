package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	weirevent "github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/helm"
	"github.com/weirgitops/weir/internal/source/oci"
)

// Flux's reasons of HelmChart outcomes.
const (
	chartPullSucceeded      = sourcev1.ChartPullSucceededReason
	chartPackageSucceeded   = sourcev1.ChartPackageSucceededReason
	invalidChartReference   = "InvalidChartReference"
	chartPullError          = "ChartPullError"
	chartPackageError       = "ChartPackageError"
	valuesFilesError        = "ValuesFilesError"
	chartVerificationError  = "ChartVerificationError"
	sourceUnavailable       = "SourceUnavailable"
	noSourceArtifact        = "NoSourceArtifact"
	unsupportedSourceKind   = "UnsupportedSourceKind"
	buildFailedCondition    = "BuildFailed"
	helmChartSourceIndex    = ".spec.sourceRef"
	helmChartFieldSeparator = "/"
)

// chartName is Flux's rule for chart names in a Helm repository.
var chartName = regexp.MustCompile(`^([-a-z0-9]+/?)+$`)

// HelmChartReconciler reconciles source.toolkit.fluxcd.io/v1 HelmChart objects: charts pulled
// from a HelmRepository (HTTP index or OCI registry) or packaged from a GitRepository or Bucket.
type HelmChartReconciler struct {
	quietSteps[*sourcev1.HelmChart, chartOutcome]

	client.Client
	Store    *artifact.Store
	Recorder *weirevent.Recorder
	Retry    *reconcile.Retry
	// TempDir is where source artifacts are unpacked; the system temporary directory when empty.
	TempDir string
	// MaxChartSize bounds a chart archive (default 10 MiB).
	MaxChartSize int64
	// Indexes holds parsed repository indexes, shared by every chart of a repository.
	Indexes *helm.IndexCache
	// RequeueDependency is how soon a chart whose source has no artifact yet looks again.
	RequeueDependency time.Duration
}

// SetupWithManager registers the reconciler with the manager.
func (r *HelmChartReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrent int) error {
	if r.Indexes == nil {
		r.Indexes = &helm.IndexCache{}
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.HelmChart{}, helmChartSourceIndex, func(o client.Object) []string {
		c := o.(*sourcev1.HelmChart)
		return []string{c.Spec.SourceRef.Kind + helmChartFieldSeparator + c.Spec.SourceRef.Name}
	}); err != nil {
		return fmt.Errorf("index %s: %w", helmChartSourceIndex, err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.HelmRepository{}, helmRepositoryURLIndex, indexHelmRepositoryURL); err != nil {
		return fmt.Errorf("index %s: %w", helmRepositoryURLIndex, err)
	}
	enqueue := func(kind string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			var list sourcev1.HelmChartList
			if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()),
				client.MatchingFields{helmChartSourceIndex: kind + helmChartFieldSeparator + o.GetName()}); err != nil {
				return nil
			}
			reqs := make([]ctrl.Request, 0, len(list.Items))
			for _, c := range list.Items {
				reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
			}
			return reqs
		})
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("helmchart").
		For(&sourcev1.HelmChart{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&sourcev1.HelmRepository{}, enqueue(sourcev1.HelmRepositoryKind), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.GitRepository{}, enqueue(sourcev1.GitRepositoryKind), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.Bucket{}, enqueue(sourcev1.BucketKind), builder.WithPredicates(reconcile.ArtifactChanged{})).
		WithOptions(controllerOptions(concurrent)).
		Complete(&reconcile.Skeleton[*sourcev1.HelmChart, chartOutcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.HelmChartKind,
			New: func() *sourcev1.HelmChart { return &sourcev1.HelmChart{} }, Steps: r,
		})
}

// chartOutcome is what one run of a HelmChart's steps did.
type chartOutcome struct {
	err error
	// reason and summary describe the stored build ("pulled 'podinfo' chart with version …").
	reason, summary string
	// stored is set when a new artifact was stored.
	stored bool
}

// Err returns the failure, nil on success.
func (o chartOutcome) Err() error { return o.err }

// Fields returns the HelmChart's fields the skeleton reads and writes.
func (r *HelmChartReconciler) Fields(obj *sourcev1.HelmChart) reconcile.Fields {
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

// Run builds the chart and stores it when the build differs from the stored artifact.
func (r *HelmChartReconciler) Run(ctx context.Context, obj *sourcev1.HelmChart, progress func(string)) chartOutcome {
	out := r.reconcile(ctx, obj, progress)
	if out.err != nil && reconcile.Reason(out.err, "") == "" {
		out.err = reconcile.Failed(chartPullError, out.err)
	}
	return out
}

// Summarize writes the outcome into the conditions: Ready and ArtifactInStorage with the
// build's reason and summary; failures in FetchFailed or BuildFailed as Flux sorts them.
func (r *HelmChartReconciler) Summarize(obj *sourcev1.HelmChart, out chartOutcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if out.err == nil {
		for _, t := range []string{compat.FetchFailedCondition, buildFailedCondition, compat.StorageOperationFailedCondition, compat.ArtifactOutdatedCondition} {
			conds.Delete(t)
		}
		reason, msg := out.reason, out.summary
		if msg == "" {
			reason, msg = chartSummary(obj)
		}
		conds.True(compat.ArtifactInStorageCondition, reason, msg)
		conds.Ready(reason, msg)
		return
	}
	reason := reconcile.Reason(out.err, chartPullError)
	text := out.err.Error()
	switch reason {
	case valuesFilesError, chartPackageError, chartVerificationError, "MetadataPatchError", dependencyBuildError:
		conds.Delete(compat.FetchFailedCondition)
		conds.True(buildFailedCondition, reason, text)
	case compat.StorageOperationFailedReason, compat.ArchiveOperationFailedReason:
		conds.True(compat.StorageOperationFailedCondition, reason, text)
	default:
		conds.Delete(buildFailedCondition)
		conds.True(compat.FetchFailedCondition, reason, text)
	}
	conds.NotReady(reason, text, reconcile.IsStalled(out.err))
}

// chartSummary describes the stored artifact when this reconcile built nothing new.
func chartSummary(obj *sourcev1.HelmChart) (string, string) {
	if c := (reconcile.Conditions{List: &obj.Status.Conditions}).Get(compat.ArtifactInStorageCondition); c != nil &&
		(c.Reason == chartPullSucceeded || c.Reason == chartPackageSucceeded) {
		return c.Reason, c.Message
	}
	if obj.Status.Artifact == nil {
		return chartPullSucceeded, "no chart build"
	}
	return chartPullSucceeded, fmt.Sprintf("pulled '%s' chart with version '%s'", obj.Spec.Chart, obj.Status.Artifact.Revision)
}

// Report records the new artifact: Flux's event reason is the build's (ChartPullSucceeded or
// ChartPackageSucceeded), with the summary.
func (r *HelmChartReconciler) Report(obj *sourcev1.HelmChart, out chartOutcome, _ time.Duration) {
	if out.err != nil || !out.stored || obj.Status.Artifact == nil {
		return
	}
	r.Recorder.Normal(obj, out.reason, map[string]string{compat.RevisionMetaKey: obj.Status.Artifact.Revision,
		compat.DigestMetaKey: obj.Status.Artifact.Digest}, "%s", out.summary)
}

// Finalize removes the chart's artifacts from the store.
func (r *HelmChartReconciler) Finalize(ctx context.Context, obj *sourcev1.HelmChart) error {
	return deleteArtifacts(ctx, r.Store, storeObject(sourcev1.HelmChartKind, obj))
}

// build is a chart ready to store.
type build struct {
	name, version string
	data          []byte
	packaged      bool
	valuesFiles   []string
}

func (b build) summary() (string, string) {
	verb, reason := "pulled", chartPullSucceeded
	if b.packaged {
		verb, reason = "packaged", chartPackageSucceeded
	}
	s := fmt.Sprintf("%s '%s' chart with version '%s'", verb, b.name, b.version)
	if len(b.valuesFiles) > 0 {
		s += fmt.Sprintf(" and merged values files %v", b.valuesFiles)
	}
	return reason, s
}

func (r *HelmChartReconciler) reconcile(ctx context.Context, obj *sourcev1.HelmChart, progress func(string)) chartOutcome {
	ref := obj.Spec.SourceRef
	var (
		b   *build
		err error
	)
	switch ref.Kind {
	case sourcev1.HelmRepositoryKind:
		var repo sourcev1.HelmRepository
		if err := r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, &repo); err != nil {
			return chartOutcome{err: sourceError(ref, err)}
		}
		if repo.Spec.Type == sourcev1.HelmRepositoryTypeOCI {
			b, err = r.fromOCI(ctx, obj, &repo, progress)
		} else {
			b, err = r.fromIndex(ctx, obj, &repo, progress)
		}
	case sourcev1.GitRepositoryKind, sourcev1.BucketKind:
		b, err = r.fromSource(ctx, obj, progress)
	default:
		return chartOutcome{err: reconcile.Stalled(unsupportedSourceKind, fmt.Errorf(
			"failed to get source: unsupported source kind '%s', must be one of: [HelmRepository GitRepository Bucket]", ref.Kind))}
	}
	if err != nil {
		return chartOutcome{err: err}
	}
	if b == nil {
		return chartOutcome{} // up to date
	}
	reason, summary := b.summary()
	file := b.name + "-" + b.version + ".tgz"
	rec, err := r.Store.Put(ctx, storeObject(sourcev1.HelmChartKind, obj), file, b.version, bytes.NewReader(b.data))
	if err != nil {
		return chartOutcome{err: reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("unable to save artifact to storage: %w", err))}
	}
	obj.Status.Artifact = artifactOf(rec)
	obj.Status.URL = rec.URL
	obj.Status.ObservedChartName = obj.Spec.Chart
	obj.Status.ObservedValuesFiles = nil
	if obj.Spec.IgnoreMissingValuesFiles {
		obj.Status.ObservedValuesFiles = b.valuesFiles
	}
	if _, err := r.Store.GC(ctx, storeObject(sourcev1.HelmChartKind, obj), rec.Path); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "garbage collection of old artifacts failed")
	}
	return chartOutcome{reason: reason, summary: summary, stored: true}
}

// sourceError is a failure to read the chart's source object.
func sourceError(ref sourcev1.LocalHelmChartSourceReference, err error) error {
	if apierrors.IsNotFound(err) {
		return reconcile.Failed(sourceUnavailable, fmt.Errorf("failed to get source: %s '%s' not found", ref.Kind, ref.Name))
	}
	return reconcile.Failed(sourceUnavailable, fmt.Errorf("failed to get source: %w", err))
}

// valuesFiles are the spec's values files, a lone values.yaml counting as none.
func valuesFiles(obj *sourcev1.HelmChart) []string {
	if len(obj.Spec.ValuesFiles) == 1 && path.Clean(obj.Spec.ValuesFiles[0]) == "values.yaml" {
		return nil
	}
	return obj.Spec.ValuesFiles
}

// withGeneration adds the object's generation to a version as build metadata (replacing any).
func withGeneration(version string, generation int64) (string, error) {
	v, err := semver.NewVersion(version)
	if err != nil {
		return "", err
	}
	nv, err := v.SetMetadata(fmt.Sprint(generation))
	if err != nil {
		return "", err
	}
	return nv.String(), nil
}

// upToDate reports whether the stored artifact is the build name@version of this generation.
func (r *HelmChartReconciler) upToDate(obj *sourcev1.HelmChart, version string) bool {
	a := obj.Status.Artifact
	return a != nil && a.Revision == version && obj.Status.ObservedChartName == obj.Spec.Chart &&
		obj.Status.ObservedGeneration == obj.Generation && storedAt(r.Store, a)
}

// outdated records that a new build is under way.
func outdated(obj *sourcev1.HelmChart, progress func(string), name, version string) {
	msg := fmt.Sprintf("new chart '%s' with version '%s'", name, version)
	if obj.Status.Artifact != nil {
		(reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}).True(compat.ArtifactOutdatedCondition, "NewChart", msg)
	}
	progress("building artifact: " + msg)
}

// fromIndex pulls the chart from an HTTP(S) repository, through its stored index.
func (r *HelmChartReconciler) fromIndex(ctx context.Context, obj *sourcev1.HelmChart, repo *sourcev1.HelmRepository, progress func(string)) (*build, error) {
	if !chartName.MatchString(obj.Spec.Chart) {
		return nil, reconcile.Stalled(invalidChartReference, fmt.Errorf("invalid chart reference: invalid chart name '%s': a valid name must be lower case letters and numbers and MAY be separated with dashes (-) or slashes (/)", obj.Spec.Chart))
	}
	a := repo.Status.Artifact
	if a == nil || !storedAt(r.Store, a) {
		return nil, reconcile.Waiting(noSourceArtifact, r.RequeueDependency, fmt.Errorf("no artifact available for HelmRepository source '%s'", repo.Name))
	}
	idx, err := r.Indexes.Get(a.Digest, func() ([]byte, error) { return os.ReadFile(filepath.Join(r.Store.Root(), a.Path)) })
	if err != nil {
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: failed to load index: %w", err))
	}
	cv, err := helm.ChartVersion(idx, obj.Spec.Chart, obj.Spec.Version)
	if err != nil {
		return nil, reconcile.Stalled(invalidChartReference, fmt.Errorf("invalid chart reference: failed to get chart version for remote reference: %w", err))
	}
	obj.Status.ObservedSourceArtifactRevision = a.Revision
	version := cv.Version
	files := valuesFiles(obj)
	if len(files) > 0 {
		if version, err = withGeneration(version, obj.Generation); err != nil {
			return nil, reconcile.Stalled("MetadataPatchError", fmt.Errorf("chart metadata patch error: %w", err))
		}
	}
	if r.upToDate(obj, version) {
		return nil, nil
	}
	outdated(obj, progress, cv.Name, version)
	c, err := helmClient(ctx, r.Client, repo)
	if err != nil {
		return nil, err
	}
	timeout := defaultHelmTimeout
	if repo.Spec.Timeout != nil {
		timeout = repo.Spec.Timeout.Duration
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, ch, err := c.FetchChart(fctx, repo.Spec.URL, cv, r.MaxChartSize)
	if err != nil {
		if errors.Is(err, helm.ErrAuthentication) {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("chart pull error: failed to download chart for remote reference: %w", err))
		}
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: failed to download chart for remote reference: %w", err))
	}
	return r.finish(obj, ch, data, version, files, func(name string) ([]byte, bool) { return chartFile(ch, name) }, nil)
}

// chartFile reads a file of a loaded chart by its cleaned name.
func chartFile(ch *chart.Chart, name string) ([]byte, bool) {
	name = path.Clean(name)
	for _, f := range ch.Files {
		if path.Clean(f.Name) == name {
			return f.Data, true
		}
	}
	for _, f := range ch.Raw {
		if path.Clean(f.Name) == name {
			return f.Data, true
		}
	}
	return nil, false
}

// finish merges the values files (when any), runs prepare (when given: a directory chart's
// dependencies) and packages the chart again; without values files the pulled archive is
// stored as it is.
func (r *HelmChartReconciler) finish(obj *sourcev1.HelmChart, ch *chart.Chart, data []byte, version string, files []string,
	read func(string) ([]byte, bool), prepare func(*chart.Chart) error) (*build, error) {
	b := &build{name: ch.Name(), version: version, data: data}
	if len(files) == 0 && version == ch.Metadata.Version && data != nil {
		return b, nil
	}
	var vfs []helm.ValuesFile
	for _, f := range files {
		vf := helm.ValuesFile{Name: f}
		if d, ok := read(f); ok {
			vf.Data = d
		} else if path.Clean(f) != "values.yaml" {
			vf.Data = nil
		}
		vfs = append(vfs, vf)
	}
	if len(vfs) > 0 {
		if err := helm.MergeValues(ch, vfs, obj.Spec.IgnoreMissingValuesFiles); err != nil {
			return nil, reconcile.Stalled(valuesFilesError, fmt.Errorf("values files merge error: %w", err))
		}
		for _, f := range vfs {
			if f.Data != nil || path.Clean(f.Name) == "values.yaml" {
				b.valuesFiles = append(b.valuesFiles, f.Name)
			}
		}
	}
	ch.Metadata.Version = version
	if prepare != nil {
		if err := prepare(ch); err != nil {
			return nil, err
		}
	}
	out, err := helm.Package(ch)
	if err != nil {
		return nil, reconcile.Failed(chartPackageError, fmt.Errorf("chart package error: %w", err))
	}
	b.data, b.packaged = out, true
	return b, nil
}

// fromSource packages the chart at spec.chart in a GitRepository's or Bucket's artifact.
func (r *HelmChartReconciler) fromSource(ctx context.Context, obj *sourcev1.HelmChart, progress func(string)) (*build, error) {
	ref := obj.Spec.SourceRef
	var (
		a   *meta.Artifact
		err error
	)
	if ref.Kind == sourcev1.GitRepositoryKind {
		var g sourcev1.GitRepository
		if err = r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, &g); err == nil {
			a = g.Status.Artifact
		}
	} else {
		var bk sourcev1.Bucket
		if err = r.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}, &bk); err == nil {
			a = bk.Status.Artifact
		}
	}
	if err != nil {
		return nil, sourceError(ref, err)
	}
	if a == nil || !storedAt(r.Store, a) {
		return nil, reconcile.Waiting(noSourceArtifact, r.RequeueDependency, fmt.Errorf("no artifact available for %s source '%s'", ref.Kind, ref.Name))
	}
	tmp, err := os.MkdirTemp(r.TempDir, "helmchart-")
	if err != nil {
		return nil, reconcile.Failed(compat.StorageOperationFailedReason, err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "source")
	if err := r.Store.Extract(ctx, recordOf(a), root, artifact.Limits{}); err != nil {
		return nil, reconcile.Failed(compat.FailedReason, fmt.Errorf("failed to extract source artifact: %w", err))
	}
	chartPath, err := confined(root, obj.Spec.Chart)
	if err != nil {
		return nil, reconcile.Stalled(invalidChartReference, fmt.Errorf("invalid chart reference: %w", err))
	}
	ch, err := helm.LoadDir(chartPath)
	if err != nil {
		return nil, reconcile.Stalled(invalidChartReference, fmt.Errorf("invalid chart reference: failed to load chart at '%s': %w", obj.Spec.Chart, err))
	}
	obj.Status.ObservedSourceArtifactRevision = a.Revision
	files := valuesFiles(obj)
	version := ch.Metadata.Version
	if obj.Spec.ReconcileStrategy == sourcev1.ReconcileStrategyRevision {
		id := revisionID(a.Revision)
		meta := id
		if len(files) > 0 {
			meta += fmt.Sprintf(".%d", obj.Generation)
		}
		v, err := semver.NewVersion(version)
		if err == nil {
			var nv semver.Version
			if nv, err = v.SetMetadata(meta); err == nil {
				version = nv.String()
			}
		}
		if err != nil {
			return nil, reconcile.Stalled("MetadataPatchError", fmt.Errorf("chart metadata patch error: %w", err))
		}
	} else if len(files) > 0 {
		if version, err = withGeneration(version, obj.Generation); err != nil {
			return nil, reconcile.Stalled("MetadataPatchError", fmt.Errorf("chart metadata patch error: %w", err))
		}
	}
	if r.upToDate(obj, version) {
		return nil, nil
	}
	outdated(obj, progress, ch.Name(), version)
	return r.finish(obj, ch, nil, version, files, func(name string) ([]byte, bool) {
		p, err := confined(root, name)
		if err != nil {
			return nil, false
		}
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, false
		}
		d, err := os.ReadFile(p)
		return d, err == nil
	}, func(ch *chart.Chart) error { return r.buildDependencies(ctx, root, chartPath, obj, ch) })
}

// revisionID is the first 12 characters of a source revision's hash: the commit of
// "main@sha1:<hex>", the digest of "sha256:<hex>".
func revisionID(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		rev = rev[i+1:]
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return rev
}

// confined joins a relative path to root, refusing one that leaves it (".." or a symlink out).
func confined(root, rel string) (string, error) {
	clean := filepath.Clean("/" + rel)
	p := filepath.Join(root, clean)
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("path '%s' not found in the source", rel)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	if r, err := filepath.Rel(realRoot, resolved); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("path '%s' leaves the source", rel)
	}
	return resolved, nil
}

// fromOCI pulls the chart from an OCI HelmRepository: <url>/<chart>, the version a tag, or
// the highest tag in the semver range.
func (r *HelmChartReconciler) fromOCI(ctx context.Context, obj *sourcev1.HelmChart, repo *sourcev1.HelmRepository, progress func(string)) (*build, error) {
	if !strings.HasPrefix(repo.Spec.URL, oci.Prefix) {
		return nil, reconcile.Stalled(compat.URLInvalidReason, fmt.Errorf("invalid OCI registry URL: %s", repo.Spec.URL))
	}
	ociRepo, err := oci.ParseRepository(strings.TrimSuffix(repo.Spec.URL, "/")+"/"+obj.Spec.Chart, repo.Spec.Insecure)
	if err != nil {
		return nil, reconcile.Stalled(compat.URLInvalidReason, err)
	}
	opts, err := r.ociOptions(ctx, repo)
	if err != nil {
		return nil, err
	}
	ref := helm.OCIRef(obj.Spec.Version)
	timeout := defaultHelmTimeout
	if repo.Spec.Timeout != nil {
		timeout = repo.Spec.Timeout.Duration
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := oci.Resolve(fctx, ociRepo, ref, opts)
	if err != nil {
		if errors.Is(err, oci.ErrAuthentication) {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to login to OCI registry: %w", err))
		}
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: failed to get chart version for remote reference: %w", err))
	}
	version := res.Tag
	files := valuesFiles(obj)
	if len(files) > 0 {
		if version, err = withGeneration(version, obj.Generation); err != nil {
			return nil, reconcile.Stalled("MetadataPatchError", fmt.Errorf("chart metadata patch error: %w", err))
		}
	}
	verified := obj.Spec.Verify == nil
	if !verified {
		c := (reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}).Get(compat.SourceVerifiedCondition)
		verified = c != nil && c.Status == "True" && c.ObservedGeneration == obj.Generation
	}
	if r.upToDate(obj, version) && verified {
		return nil, nil
	}
	outdated(obj, progress, obj.Spec.Chart, version)
	if err := r.verifyChart(fctx, obj, res, opts); err != nil {
		return nil, err
	}
	art, err := oci.Pull(fctx, res, oci.HelmChartContentMediaType, oci.Limits{MaxLayerSize: r.maxChartSize()}, opts)
	if err != nil {
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: failed to download chart for remote reference: %w", err))
	}
	blob, err := art.Open()
	if err != nil {
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: %w", err))
	}
	defer blob.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(blob); err != nil {
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: failed to download chart for remote reference: %w", err))
	}
	ch, err := helm.LoadArchive(buf.Bytes())
	if err != nil {
		return nil, reconcile.Failed(chartPullError, fmt.Errorf("chart pull error: %w", err))
	}
	return r.finish(obj, ch, buf.Bytes(), version, files, func(name string) ([]byte, bool) { return chartFile(ch, name) }, nil)
}

func (r *HelmChartReconciler) maxChartSize() int64 {
	if r.MaxChartSize > 0 {
		return r.MaxChartSize
	}
	return helm.DefaultMaxChartSize
}

// ociOptions are the registry options of an OCI HelmRepository: a Docker config Secret or
// username/password in secretRef, certSecretRef, insecure.
func (r *HelmChartReconciler) ociOptions(ctx context.Context, repo *sourcev1.HelmRepository) (oci.Options, error) {
	opts := oci.Options{Insecure: repo.Spec.Insecure, UserAgent: "flux/v2"}
	if repo.Spec.SecretRef != nil {
		s, err := getSecret(ctx, r.Client, repo.Namespace, repo.Spec.SecretRef.Name)
		if err != nil {
			return opts, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get authentication secret: %w", err))
		}
		if data := s.Data[dockerConfigJSONKey]; len(data) > 0 {
			k, err := oci.ParseDockerConfig(data)
			if err != nil {
				return opts, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("secret '%s/%s': %w", s.Namespace, s.Name, err))
			}
			opts.Keychain = k
		} else if u := string(s.Data["username"]); u != "" {
			host := strings.SplitN(strings.TrimPrefix(repo.Spec.URL, oci.Prefix), "/", 2)[0]
			opts.Keychain = oci.Keychain{host: {Username: u, Password: string(s.Data["password"])}}
		}
	}
	t, err := certOptions(ctx, r.Client, repo.Namespace, repo.Spec.CertSecretRef)
	if err != nil {
		return opts, err
	}
	opts.CACert, opts.ClientCert, opts.ClientKey = t.CACert, t.ClientCert, t.ClientKey
	return opts, nil
}

// verifyChart checks an OCI chart's signature as spec.verify asks, recording SourceVerified.
func (r *HelmChartReconciler) verifyChart(ctx context.Context, obj *sourcev1.HelmChart, res oci.Resolved, opts oci.Options) error {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	v := obj.Spec.Verify
	if v == nil {
		conds.Delete(compat.SourceVerifiedCondition)
		return nil
	}
	provider, err := verifyOCI(ctx, r.Client, obj.Namespace, v.Provider, v.SecretRef, nil, v.MatchOIDCIdentity, res, opts)
	if err != nil {
		err = fmt.Errorf("chart verification error: failed to verify the signature using provider '%s': %w", provider, err)
		conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
		return reconcile.Failed(chartVerificationError, err)
	}
	conds.True(compat.SourceVerifiedCondition, compat.SucceededReason, fmt.Sprintf("verified signature of version %s", res.Tag))
	return nil
}
