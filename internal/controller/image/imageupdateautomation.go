package image

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
	weirevent "github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/gitauth"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

const (
	// pushAttempts is how many times a push rejected because the branch moved is tried again
	// on the new head.
	pushAttempts = 3
	// defaultGitTimeout bounds the Git operations of a run when the GitRepository has none.
	defaultGitTimeout = 60 * time.Second
)

// ImageUpdateAutomationReconciler reconciles image.toolkit.fluxcd.io/v1
// ImageUpdateAutomations: it checks out the GitRepository, writes the latest images of the
// selected ImagePolicies into the marked fields, commits, pushes, and asks the GitRepository
// to fetch at once.
type ImageUpdateAutomationReconciler struct {
	client.Client
	Recorder *weirevent.Recorder
	Retry    *reconcile.Retry
	// NoCrossNamespaceRefs refuses GitRepositories of other namespaces.
	NoCrossNamespaceRefs bool
	// RequeueDependency is how long an automation waits for its GitRepository.
	RequeueDependency time.Duration
	// TempDir is where repositories are cloned; the system temporary directory when empty.
	TempDir string
	// GitAuth reads the GitRepository's Secrets and GitHub App tokens, shared with the
	// GitRepository reconciler so that both use one token per repository; nil means one of
	// its own.
	GitAuth     *gitauth.Resolver
	gitAuthOnce sync.Once
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// SetupWithManager registers the reconciler, with watches that run the automations of a
// namespace when one of its ImagePolicies selects another image, and an automation when its
// GitRepository changes.
func (r *ImageUpdateAutomationReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, concurrent int) error {
	byNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var list imageautov1.ImageUpdateAutomationList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		reqs := make([]ctrl.Request, 0, len(list.Items))
		for _, a := range list.Items {
			reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Name}})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("imageupdateautomation").
		For(&imageautov1.ImageUpdateAutomation{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&imagev1.ImagePolicy{}, byNamespace, builder.WithPredicates(latestRefChanged{})).
		WithOptions(controllerOptions(concurrent)).
		Complete(&reconcile.Skeleton[*imageautov1.ImageUpdateAutomation, outcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: imageautov1.GroupVersion, Kind: imageautov1.ImageUpdateAutomationKind,
			New: func() *imageautov1.ImageUpdateAutomation { return &imageautov1.ImageUpdateAutomation{} }, Steps: r,
		})
}

// latestRefChanged passes ImagePolicies that selected another image, were created or
// deleted, or changed labels (which policySelector reads).
type latestRefChanged struct{ predicate.Funcs }

// Update passes a new latestRef or new labels.
func (latestRefChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*imagev1.ImagePolicy)
	n, ok2 := e.ObjectNew.(*imagev1.ImagePolicy)
	if !ok1 || !ok2 {
		return false
	}
	ref := func(p *imagev1.ImagePolicy) string {
		if p.Status.LatestRef == nil {
			return ""
		}
		return p.Status.LatestRef.String()
	}
	return ref(o) != ref(n) || !maps.Equal(o.Labels, n.Labels)
}

// Fields returns the automation's fields the skeleton reads and writes.
func (r *ImageUpdateAutomationReconciler) Fields(obj *imageautov1.ImageUpdateAutomation) reconcile.Fields {
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: obj.Status.LastPushCommit,
	}
}

// runResult is what one run did.
type runResult struct {
	// pushed is the commit pushed, branch where; empty when nothing changed.
	pushed, branch string
	// pushedToCheckout says the commit went to the checked-out branch, which it now heads.
	pushedToCheckout bool
	// message says what the run did; problems lists the markers and files skipped;
	// commitMessage is the pushed commit's message.
	message, problems, commitMessage string
}

// sourceRevision is the revision of the checkout reference after the run: the pushed commit
// when it went to the checked-out branch, else the head the run started from (the push
// branch's own head does not matter to the next run's comparison).
func (r runResult) sourceRevision(head git.Revision) string {
	if r.pushedToCheckout {
		return git.Revision{Name: head.Name, Ref: head.Ref, Hash: r.pushed}.String()
	}
	return head.String()
}

// Run performs one automation run.
func (r *ImageUpdateAutomationReconciler) Run(ctx context.Context, obj *imageautov1.ImageUpdateAutomation, progress func(string)) outcome {
	res, err := r.run(ctx, obj, progress)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(imageautov1.GitOperationFailedReason, err)
	}
	msg := res.message
	if res.pushed != "" {
		msg = fmt.Sprintf("pushed commit '%s' to branch '%s'", shortHash(res.pushed), res.branch)
	}
	if msg == "" {
		msg = "repository up-to-date"
	}
	return outcome{err: err, changed: res.pushed != "", message: msg, event: strings.TrimSpace(msg + "\n" + res.commitMessage)}
}

// Summarize writes the outcome into the conditions.
func (r *ImageUpdateAutomationReconciler) Summarize(obj *imageautov1.ImageUpdateAutomation, out outcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if out.err != nil {
		conds.NotReady(reconcile.Reason(out.err, imageautov1.GitOperationFailedReason), out.err.Error(), reconcile.IsStalled(out.err))
		return
	}
	conds.Ready(compat.SucceededReason, out.message)
}

// Report records a pushed commit.
func (r *ImageUpdateAutomationReconciler) Report(obj *imageautov1.ImageUpdateAutomation, out outcome, _ time.Duration) {
	if !out.changed {
		return
	}
	r.Recorder.Normal(obj, compat.SucceededReason, map[string]string{compat.RevisionMetaKey: obj.Status.LastPushCommit}, "%s", out.event)
}

// EventMetadata is empty.
func (r *ImageUpdateAutomationReconciler) EventMetadata(*imageautov1.ImageUpdateAutomation, outcome) map[string]string {
	return nil
}

// Requeue keeps the skeleton's decision.
func (r *ImageUpdateAutomationReconciler) Requeue(_ *imageautov1.ImageUpdateAutomation, _ outcome, res ctrl.Result) ctrl.Result {
	return res
}

// Forget has nothing to drop: token sources are kept per GitRepository and Secret version.
func (r *ImageUpdateAutomationReconciler) Forget(types.NamespacedName) {}

// Finalize has nothing to clean up.
func (r *ImageUpdateAutomationReconciler) Finalize(context.Context, *imageautov1.ImageUpdateAutomation) error {
	return nil
}

// gitAuth returns the credential reader, creating one when none was given.
func (r *ImageUpdateAutomationReconciler) gitAuth() *gitauth.Resolver {
	r.gitAuthOnce.Do(func() {
		if r.GitAuth == nil {
			r.GitAuth = &gitauth.Resolver{}
		}
	})
	return r.GitAuth
}

func (r *ImageUpdateAutomationReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// run is the automation's steps: source, policies, skip check, then checkout, update,
// commit, push (again on a moved branch), and the fetch request.
func (r *ImageUpdateAutomationReconciler) run(ctx context.Context, obj *imageautov1.ImageUpdateAutomation, progress func(string)) (runResult, error) {
	var res runResult
	src, err := r.source(ctx, obj)
	if err != nil {
		return res, err
	}
	if obj.Spec.GitSpec == nil {
		return res, reconcile.Stalled(imageautov1.InvalidSourceConfigReason, errors.New("spec.git is required"))
	}
	if u := obj.Spec.Update; u != nil && u.Strategy != "" && u.Strategy != imageautov1.UpdateStrategySetters {
		return res, reconcile.Stalled(imageautov1.InvalidUpdateStrategyReason, fmt.Errorf("update strategy '%s' is not supported", u.Strategy))
	}
	images, observed, err := r.policies(ctx, obj)
	if err != nil {
		return res, err
	}
	plan, err := r.gitPlan(ctx, obj, src)
	if err != nil {
		return res, err
	}
	timeout := defaultGitTimeout
	if src.Spec.Timeout != nil {
		timeout = src.Spec.Timeout.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout*time.Duration(pushAttempts+1))
	defer cancel()

	head, err := git.LatestRevision(ctx, git.Options{URL: src.Spec.URL, Reference: plan.checkout, Auth: plan.auth})
	if err != nil {
		return res, gitError("failed to resolve the checkout reference", err)
	}
	obj.Status.LastAutomationRunTime = &metav1.Time{Time: r.now()}
	if reconcile.IsReady(obj.Status.Conditions) && obj.Status.ObservedGeneration == obj.Generation &&
		obj.Status.ObservedSourceRevision == head.String() && maps.Equal(obj.Status.ObservedPolicies, observed) {
		res.message = "no change since last reconciliation"
		return res, nil
	}
	progress("updating the repository at " + head.String())
	for attempt := 1; ; attempt++ {
		res, err = r.attempt(ctx, obj, src, plan, images)
		if err == nil || !errors.Is(err, errPushRejected) || attempt == pushAttempts {
			break
		}
		ctrl.LoggerFrom(ctx).V(1).Info("push rejected, retrying on the new head", "attempt", attempt)
	}
	if err != nil {
		return res, err
	}
	obj.Status.ObservedPolicies = observed
	obj.Status.ObservedSourceRevision = res.sourceRevision(head)
	if res.pushed != "" {
		obj.Status.LastPushCommit = res.pushed
		obj.Status.LastPushTime = &metav1.Time{Time: r.now()}
		r.requestFetch(ctx, src)
	}
	if res.problems != "" {
		done := "nothing to change"
		if res.pushed != "" {
			done = fmt.Sprintf("pushed commit '%s' to branch '%s'", shortHash(res.pushed), res.branch)
		}
		return res, reconcile.Failed(imageautov1.UpdateFailedReason, fmt.Errorf("%s; skipped: %s", done, res.problems))
	}
	return res, nil
}
