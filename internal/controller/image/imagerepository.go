package image

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/imagetags"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/registryauth"
	"github.com/weirgitops/weir/internal/source/oci"
)

const (
	// latestTagsCount is how many tags status.lastScanResult.latestTags shows, as Flux.
	latestTagsCount = 10
	userAgent       = "flux/v2"
)

// ImageRepositoryReconciler reconciles image.toolkit.fluxcd.io/v1 ImageRepositories: it lists
// the repository's tags, drops the excluded ones and keeps the rest in Tags.
type ImageRepositoryReconciler struct {
	quiet[*imagev1.ImageRepository]

	client.Client
	Recorder *event.Recorder
	Retry    *reconcile.Retry
	Tags     *imagetags.Store
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// SetupWithManager registers the reconciler with the manager.
func (r *ImageRepositoryReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, concurrent int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("imagerepository").
		For(&imagev1.ImageRepository{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		WithOptions(controllerOptions(concurrent)).
		Complete(&reconcile.Skeleton[*imagev1.ImageRepository, outcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: imagev1.GroupVersion, Kind: imagev1.ImageRepositoryKind,
			New: func() *imagev1.ImageRepository { return &imagev1.ImageRepository{} }, Steps: r,
		})
}

// Fields returns the ImageRepository's fields the skeleton reads and writes.
func (r *ImageRepositoryReconciler) Fields(obj *imagev1.ImageRepository) reconcile.Fields {
	rev := ""
	if obj.Status.LastScanResult != nil {
		rev = obj.Status.LastScanResult.Revision
	}
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: rev,
	}
}

// Run scans the repository when it is due.
func (r *ImageRepositoryReconciler) Run(ctx context.Context, obj *imagev1.ImageRepository, progress func(string)) outcome {
	err := r.reconcile(ctx, obj, progress)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(compat.FailureReason, err)
	}
	return outcome{err: err}
}

// Summarize writes the outcome into the conditions.
func (r *ImageRepositoryReconciler) Summarize(obj *imagev1.ImageRepository, out outcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if out.err != nil {
		conds.NotReady(reconcile.Reason(out.err, compat.FailureReason), out.err.Error(), reconcile.IsStalled(out.err))
		return
	}
	n := 0
	if obj.Status.LastScanResult != nil {
		n = obj.Status.LastScanResult.TagCount
	}
	conds.Ready(compat.SucceededReason, fmt.Sprintf("successful scan: found %d tags", n))
}

// Requeue schedules the next scan from the last one, not from this reconcile: a reconcile
// that did not scan (a restart, a resync) must not push the scan a whole interval later.
func (r *ImageRepositoryReconciler) Requeue(obj *imagev1.ImageRepository, out outcome, res ctrl.Result) ctrl.Result {
	last := obj.Status.LastScanResult
	if out.err != nil || last == nil || res.RequeueAfter <= 0 {
		return res
	}
	interval, _ := r.Retry.Interval(obj.Spec.Interval.Duration)
	next := last.ScanTime.Add(interval).Sub(r.now())
	if next < res.RequeueAfter {
		return ctrl.Result{RequeueAfter: max(next, time.Second)}
	}
	return res
}

// Finalize drops the repository's tags.
func (r *ImageRepositoryReconciler) Finalize(_ context.Context, obj *imagev1.ImageRepository) error {
	return r.Tags.Delete(types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name})
}

func (r *ImageRepositoryReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// reconcile runs the steps: image name, exclusion list, credentials, then, when a scan is
// due, the tag listing and the store.
func (r *ImageRepositoryReconciler) reconcile(ctx context.Context, obj *imagev1.ImageRepository, progress func(string)) error {
	repo, err := oci.ParseImage(obj.Spec.Image, obj.Spec.Insecure)
	if err != nil {
		return reconcile.Stalled(imagev1.ImageURLInvalidReason, err)
	}
	exclusions, err := compileExclusions(obj.GetExclusionList())
	if err != nil {
		return reconcile.Stalled(compat.FailureReason, err)
	}
	switch obj.GetProvider() {
	case "generic":
	default:
		if obj.Spec.SecretRef == nil && obj.Spec.ServiceAccountName == "" {
			return reconcile.Stalled(compat.InvalidProviderConfigurationReason, fmt.Errorf(
				"provider '%s' authenticates with the cloud's workload identity, which weir does not support: use provider 'generic' with spec.secretRef or spec.serviceAccountName",
				obj.GetProvider()))
		}
	}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
	canonical := repo.String()
	reason, due := r.scanDue(obj, key, canonical)
	if !due {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	opts, err := registryauth.Options(ctx, r.Client, registryauth.Spec{
		Namespace: obj.Namespace, SecretRef: obj.Spec.SecretRef, ServiceAccountName: obj.Spec.ServiceAccountName,
		CertSecretRef: obj.Spec.CertSecretRef, ProxySecretRef: obj.Spec.ProxySecretRef, Insecure: obj.Spec.Insecure,
		UserAgent: userAgent,
	})
	if err != nil {
		return reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to configure authentication options: %w", err))
	}
	progress("scanning: " + reason)
	all, err := oci.ListTags(ctx, repo, r.Tags.MaxTags()*2, opts)
	if err != nil {
		if errors.Is(err, oci.ErrAuthentication) {
			return reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("scan failed: %w", err))
		}
		return reconcile.Failed(imagev1.ReadOperationFailedReason, fmt.Errorf("scan failed: %w", err))
	}
	tags := filterTags(all, exclusions)
	previous := ""
	if obj.Status.LastScanResult != nil {
		previous = obj.Status.LastScanResult.Revision
	}
	stored, err := r.Tags.Set(key, tags)
	if err != nil {
		return reconcile.Failed(imagev1.ReadOperationFailedReason, fmt.Errorf("failed to set tags for '%s': %w", canonical, err))
	}
	revision := "sha256:" + stored.Revision
	obj.Status.CanonicalImageName = canonical
	obj.Status.ObservedExclusionList = obj.GetExclusionList()
	obj.Status.LastScanResult = &imagev1.ScanResult{
		Revision: revision, TagCount: len(stored.List), ScanTime: metav1.NewTime(r.now()),
		LatestTags: latestTags(stored.List),
	}
	if revision != previous {
		r.Recorder.Normal(obj, compat.SucceededReason, map[string]string{compat.RevisionMetaKey: revision},
			"successful scan: found %d tags", len(stored.List))
	}
	return nil
}

// scanDue says whether the repository must be listed now, and why: never scanned, a
// reconcile request, a new image or exclusion list, tags missing from the store, or the
// interval passed since the last scan. Any other reconcile (a restart, a resync) costs nothing.
func (r *ImageRepositoryReconciler) scanDue(obj *imagev1.ImageRepository, key types.NamespacedName, canonical string) (string, bool) {
	last := obj.Status.LastScanResult
	switch {
	case last == nil:
		return "first scan", true
	case obj.GetAnnotations()[compat.ReconcileRequestAnnotation] != obj.Status.LastHandledReconcileAt &&
		obj.GetAnnotations()[compat.ReconcileRequestAnnotation] != "":
		return "reconcile requested", true
	case canonical != obj.Status.CanonicalImageName:
		return "new image name", true
	case !slices.Equal(obj.GetExclusionList(), obj.Status.ObservedExclusionList):
		return "new exclusion list", true
	case obj.Generation != obj.Status.ObservedGeneration:
		return "new generation", true
	}
	if t, err := r.Tags.Get(key); err != nil || "sha256:"+t.Revision != last.Revision {
		return "tags missing from the store", true
	}
	// The requeue after a scan is jittered by ±JitterPercent: a reconcile within that window
	// of the interval is the interval's, or it would wait a whole interval more.
	interval, _ := r.Retry.Interval(obj.Spec.Interval.Duration)
	slack := max(time.Second, interval*reconcile.JitterPercent/100)
	if r.now().Sub(last.ScanTime.Time) >= interval-slack {
		return "interval passed", true
	}
	return "", false
}

func compileExclusions(patterns []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("failed to compile regex '%s' of spec.exclusionList: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func filterTags(tags []string, exclusions []*regexp.Regexp) []string {
	out := make([]string, 0, len(tags))
next:
	for _, t := range tags {
		for _, re := range exclusions {
			if re.MatchString(t) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// latestTags are the first tags in reverse alphabetical order, as Flux reports them.
func latestTags(sorted []string) []string {
	n := min(latestTagsCount, len(sorted))
	out := make([]string, 0, n)
	for i := len(sorted) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, sorted[i])
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}
