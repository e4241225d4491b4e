package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
	weirevent "github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/imagetags"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/registryauth"
	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/tagpolicy"
)

// imageRepositoryIndex indexes ImagePolicies by the "<namespace>/<name>" of their
// ImageRepository.
const imageRepositoryIndex = ".spec.imageRepositoryRef"

// ImagePolicyReconciler reconciles image.toolkit.fluxcd.io/v1 ImagePolicies: it selects the
// latest tag of the ImageRepository's stored tags, and its digest when asked.
type ImagePolicyReconciler struct {
	client.Client
	Recorder *weirevent.Recorder
	Retry    *reconcile.Retry
	Tags     *imagetags.Store
	// NoCrossNamespaceRefs refuses ImageRepositories of other namespaces.
	NoCrossNamespaceRefs bool
	// RequeueDependency is how long a policy waits for its ImageRepository.
	RequeueDependency time.Duration
}

// SetupWithManager registers the reconciler, its index, and the watch that reconciles the
// policies of an ImageRepository whose scan found other tags.
func (r *ImagePolicyReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrent int) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &imagev1.ImagePolicy{}, imageRepositoryIndex, func(o client.Object) []string {
		p := o.(*imagev1.ImagePolicy)
		return []string{repositoryKey(p).String()}
	}); err != nil {
		return fmt.Errorf("index %s: %w", imageRepositoryIndex, err)
	}
	byRepository := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var list imagev1.ImagePolicyList
		key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}.String()
		if err := r.List(ctx, &list, client.MatchingFields{imageRepositoryIndex: key}); err != nil {
			return nil
		}
		reqs := make([]ctrl.Request, 0, len(list.Items))
		for _, p := range list.Items {
			reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("imagepolicy").
		For(&imagev1.ImagePolicy{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&imagev1.ImageRepository{}, byRepository, builder.WithPredicates(scanChanged{})).
		WithOptions(controllerOptions(concurrent)).
		Complete(&reconcile.Skeleton[*imagev1.ImagePolicy, outcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: imagev1.GroupVersion, Kind: imagev1.ImagePolicyKind,
			New: func() *imagev1.ImagePolicy { return &imagev1.ImagePolicy{} }, Steps: r,
		})
}

// scanChanged passes ImageRepositories whose scan found a new set of tags, whose readiness
// or access rules changed, and their creation and deletion.
type scanChanged struct{ predicate.Funcs }

// Update passes a new tag revision, Ready status or accessFrom.
func (scanChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*imagev1.ImageRepository)
	n, ok2 := e.ObjectNew.(*imagev1.ImageRepository)
	if !ok1 || !ok2 {
		return false
	}
	rev := func(r *imagev1.ImageRepository) string {
		if r.Status.LastScanResult == nil {
			return ""
		}
		return r.Status.LastScanResult.Revision
	}
	return rev(o) != rev(n) || reconcile.IsReady(o.Status.Conditions) != reconcile.IsReady(n.Status.Conditions) ||
		o.Generation != n.Generation
}

// repositoryKey is the ImageRepository a policy names.
func repositoryKey(p *imagev1.ImagePolicy) types.NamespacedName {
	ns := p.Spec.ImageRepositoryRef.Namespace
	if ns == "" {
		ns = p.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: p.Spec.ImageRepositoryRef.Name}
}

// Fields returns the ImagePolicy's fields the skeleton reads and writes.
func (r *ImagePolicyReconciler) Fields(obj *imagev1.ImagePolicy) reconcile.Fields {
	rev := ""
	if obj.Status.LatestRef != nil {
		rev = obj.Status.LatestRef.String()
	}
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.GetInterval(), RetryInterval: reconcile.BackoffOnly, Revision: rev,
	}
}

// Run selects the latest image.
func (r *ImagePolicyReconciler) Run(ctx context.Context, obj *imagev1.ImagePolicy, _ func(string)) outcome {
	changed, err := r.reconcile(ctx, obj)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(compat.FailureReason, err)
	}
	return outcome{err: err, changed: changed}
}

// Summarize writes the outcome into the conditions. A failure resets observedPreviousRef, as
// Flux does, so that recovering is not taken for an upgrade.
func (r *ImagePolicyReconciler) Summarize(obj *imagev1.ImagePolicy, out outcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if out.err != nil {
		obj.Status.ObservedPreviousRef = nil
		conds.NotReady(reconcile.Reason(out.err, compat.FailureReason), out.err.Error(), reconcile.IsStalled(out.err))
		return
	}
	conds.Ready(compat.SucceededReason, readyMessage(obj.Status.LatestRef))
}

func readyMessage(ref *imagev1.ImageRef) string {
	if ref == nil {
		return "no image selected"
	}
	msg := fmt.Sprintf("Latest image tag for %s resolved to %s", ref.Name, ref.Tag)
	if ref.Digest != "" {
		msg += " with digest " + ref.Digest
	}
	return msg
}

// Report records the selection of a new image.
func (r *ImagePolicyReconciler) Report(obj *imagev1.ImagePolicy, out outcome, _ time.Duration) {
	if out.err != nil || obj.Status.LatestRef == nil || !out.changed {
		return
	}
	prev := obj.Status.ObservedPreviousRef
	meta := map[string]string{compat.RevisionMetaKey: obj.Status.LatestRef.String()}
	if prev != nil && prev.Name == obj.Status.LatestRef.Name {
		r.Recorder.Normal(obj, compat.SucceededReason, meta, "Latest image tag for %s updated from %s to %s",
			obj.Status.LatestRef.Name, refTag(prev), refTag(obj.Status.LatestRef))
		return
	}
	r.Recorder.Normal(obj, compat.SucceededReason, meta, "%s", readyMessage(obj.Status.LatestRef))
}

func refTag(r *imagev1.ImageRef) string {
	if r.Digest != "" {
		return r.Tag + "@" + r.Digest
	}
	return r.Tag
}

// EventMetadata is empty.
func (r *ImagePolicyReconciler) EventMetadata(*imagev1.ImagePolicy, outcome) map[string]string {
	return nil
}

// Requeue reconciles a policy without digest refresh only on events: its tags come from the
// ImageRepository, whose scans trigger it.
func (r *ImagePolicyReconciler) Requeue(obj *imagev1.ImagePolicy, out outcome, res ctrl.Result) ctrl.Result {
	if out.err == nil && obj.GetInterval() == 0 {
		return ctrl.Result{}
	}
	return res
}

// Forget has nothing to drop.
func (r *ImagePolicyReconciler) Forget(types.NamespacedName) {}

// Finalize has nothing to clean up.
func (r *ImagePolicyReconciler) Finalize(context.Context, *imagev1.ImagePolicy) error { return nil }

// reconcile runs the steps: ImageRepository and access, policy, tags, selection, digest.
func (r *ImagePolicyReconciler) reconcile(ctx context.Context, obj *imagev1.ImagePolicy) (bool, error) {
	repo, err := r.repository(ctx, obj)
	if err != nil {
		return false, err
	}
	sel, err := tagpolicy.Compile(policyOf(obj))
	if err != nil {
		return false, reconcile.Stalled(compat.FailureReason, err)
	}
	// The CRD refuses it too; an object stored before that rule still gets a clear condition.
	if obj.Spec.Interval != nil && obj.GetDigestReflectionPolicy() != imagev1.ReflectAlways {
		return false, reconcile.Stalled(imagev1.IntervalNotConfiguredReason,
			errors.New("spec.interval is only accepted with spec.digestReflectionPolicy 'Always'"))
	}
	if repo.Status.LastScanResult == nil || repo.Status.CanonicalImageName == "" {
		return false, reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
			fmt.Errorf("ImageRepository '%s/%s' has not been scanned yet", repo.Namespace, repo.Name))
	}
	tags, err := r.Tags.Get(types.NamespacedName{Namespace: repo.Namespace, Name: repo.Name})
	if err != nil {
		return false, reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
			fmt.Errorf("tags of ImageRepository '%s/%s' are not available yet: %w", repo.Namespace, repo.Name, err))
	}
	tag, err := sel.Latest(tags.List)
	if err != nil {
		return false, reconcile.Failed(compat.FailureReason, fmt.Errorf("cannot determine latest tag for policy: %w", err))
	}
	latest := &imagev1.ImageRef{Name: repo.Status.CanonicalImageName, Tag: tag}
	cur := obj.Status.LatestRef
	switch obj.GetDigestReflectionPolicy() {
	case imagev1.ReflectAlways:
		if latest.Digest, err = r.digest(ctx, repo, tag); err != nil {
			return false, err
		}
	case imagev1.ReflectIfNotPresent:
		if cur != nil && cur.Name == latest.Name && cur.Tag == latest.Tag && cur.Digest != "" {
			latest.Digest = cur.Digest
		} else if latest.Digest, err = r.digest(ctx, repo, tag); err != nil {
			return false, err
		}
	}
	if cur == nil || *cur != *latest {
		obj.Status.ObservedPreviousRef = cur
		obj.Status.LatestRef = latest
		return true, nil
	}
	return false, nil
}

// repository gets the ImageRepository the policy names and checks the policy may use it.
func (r *ImagePolicyReconciler) repository(ctx context.Context, obj *imagev1.ImagePolicy) (*imagev1.ImageRepository, error) {
	key := repositoryKey(obj)
	if key.Namespace != obj.Namespace && r.NoCrossNamespaceRefs {
		return nil, reconcile.Stalled(compat.AccessDeniedReason,
			fmt.Errorf("can't access 'ImageRepository/%s', cross-namespace references have been blocked", key))
	}
	var repo imagev1.ImageRepository
	if err := r.Get(ctx, key, &repo); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
				fmt.Errorf("failed to get the referred ImageRepository: referenced ImageRepository '%s' does not exist", key))
		}
		return nil, fmt.Errorf("failed to get the referred ImageRepository '%s': %w", key, err)
	}
	if key.Namespace == obj.Namespace {
		return &repo, nil
	}
	var ns corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: obj.Namespace}, &ns); err != nil {
		return nil, fmt.Errorf("get namespace '%s': %w", obj.Namespace, err)
	}
	if repo.Spec.AccessFrom != nil {
		for _, s := range repo.Spec.AccessFrom.NamespaceSelectors {
			if labels.SelectorFromSet(s.MatchLabels).Matches(labels.Set(ns.Labels)) {
				return &repo, nil
			}
		}
	}
	return nil, reconcile.Stalled(compat.AccessDeniedReason, fmt.Errorf(
		"access denied: ImageRepository '%s' does not grant access to namespace '%s' (spec.accessFrom)", key, obj.Namespace))
}

// digest resolves the tag's manifest digest with the ImageRepository's credentials.
func (r *ImagePolicyReconciler) digest(ctx context.Context, repo *imagev1.ImageRepository, tag string) (string, error) {
	name, err := oci.ParseImage(repo.Spec.Image, repo.Spec.Insecure)
	if err != nil {
		return "", reconcile.Failed(imagev1.ImageURLInvalidReason, err)
	}
	ctx, cancel := context.WithTimeout(ctx, repo.GetTimeout())
	defer cancel()
	opts, err := registryauth.Options(ctx, r.Client, registryauth.Spec{
		Namespace: repo.Namespace, SecretRef: repo.Spec.SecretRef, ServiceAccountName: repo.Spec.ServiceAccountName,
		CertSecretRef: repo.Spec.CertSecretRef, ProxySecretRef: repo.Spec.ProxySecretRef, Insecure: repo.Spec.Insecure,
		UserAgent: userAgent,
	})
	if err != nil {
		return "", err
	}
	res, err := oci.Resolve(ctx, name, oci.Ref{Tag: tag}, opts)
	if err != nil {
		reason := compat.FailureReason
		if errors.Is(err, oci.ErrAuthentication) {
			reason = compat.AuthenticationFailedReason
		}
		return "", reconcile.Failed(reason, fmt.Errorf("failed to fetch digest for tag '%s': %w", tag, err))
	}
	return res.Digest.String(), nil
}

// policyOf translates the spec for tagpolicy.
func policyOf(obj *imagev1.ImagePolicy) tagpolicy.Policy {
	var p tagpolicy.Policy
	switch c := obj.Spec.Policy; {
	case c.SemVer != nil:
		p.SemVer = &c.SemVer.Range
	case c.Alphabetical != nil:
		p.Alphabetical = &c.Alphabetical.Order
	case c.Numerical != nil:
		p.Numerical = &c.Numerical.Order
	}
	if f := obj.Spec.FilterTags; f != nil {
		p.Pattern, p.Extract = f.Pattern, f.Extract
	}
	return p
}
