package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
)

// ControllerName is the reporting controller of the stack's events.
const ControllerName = "stack-controller"

// Condition types, one per component besides Ready.
const (
	RepositoryReadyCondition     = "RepositoryReady"
	EngineReadyCondition         = "EngineReady"
	NodePoolReadyCondition       = "NodePoolReady"
	ExternalSecretReadyCondition = "ExternalSecretReady"
	SourceReadyCondition         = "SourceReady"
	KustomizationsReadyCondition = "KustomizationsReady"
)

// Reasons of the other steps.
const (
	ReasonSucceeded                   = "Succeeded"
	ReasonProgressing                 = "Progressing"
	ReasonExternalSecretsNotInstalled = "ExternalSecretsNotInstalled"
	ReasonExternalSecretNotSynced     = "ExternalSecretNotSynced"
	ReasonInvalidExternalSecrets      = "InvalidExternalSecretsSpec"
	ReasonKarpenterNotInstalled       = "KarpenterNotInstalled"
	ReasonApplyFailed                 = "ApplyFailed"
	ReasonDeletionInProgress          = "DeletionInProgress"
	ReasonEngineKept                  = "EngineKept"
)

const (
	// waitComponent is how soon a stack with a component not ready looks again, besides the
	// components' own events.
	waitComponent = 30 * time.Second
	// waitDeletionSteps is how soon a deleting stack looks again at what it waits for.
	waitDeletionSteps = 2 * time.Second
)

// Reconciler reconciles hops.ops.com.ai/v1alpha1 FluxGitopsStacks.
type Reconciler struct {
	client.Client
	// APIReader reads Secrets and Deployments straight from the API server.
	APIReader client.Reader
	Store     *artifact.Store
	Recorder  *event.Recorder
	Retry     *reconcile.Retry
	// Namespace is the runtime namespace (flux-system), where the engine, the GitRepository
	// and the Kustomizations live.
	Namespace string
	// Version is weir's version, the appVersion of the chart it installs.
	Version string
	// HTTPClient calls the GitHub API; a client with a 30 s timeout when nil.
	HTTPClient *http.Client

	chart chart
}

// SetupWithManager registers the reconciler: stacks, and the Flux objects they created, found
// by their labels.
func (r *Reconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, concurrent int) error {
	if r.HTTPClient == nil {
		r.HTTPClient = &http.Client{Timeout: apiTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	byLabels := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		l := o.GetLabels()
		if l[LabelStackName] == "" {
			return nil
		}
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: l[LabelStackNamespace], Name: l[LabelStackName]}}}
	})
	// A changed credentials Secret (a token fixed or rotated) reconciles its stacks at once.
	bySecret := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var list hopsv1.FluxGitopsStackList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var reqs []ctrl.Request
		for _, s := range list.Items {
			if credentialsSecret(&s.Spec) == o.GetName() {
				reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
			}
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("fluxgitopsstack").
		For(&hopsv1.FluxGitopsStack{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&sourcev1.GitRepository{}, byLabels).
		Watches(&kustomizev1.Kustomization{}, byLabels).
		Watches(&helmv2.HelmRelease{}, byLabels).
		Watches(&corev1.Secret{}, bySecret, builder.OnlyMetadata, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrent}).
		Complete(&reconcile.Skeleton[*hopsv1.FluxGitopsStack, outcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: hopsv1.GroupVersion, Kind: hopsv1.FluxGitopsStackKind,
			New: func() *hopsv1.FluxGitopsStack { return &hopsv1.FluxGitopsStack{} }, Steps: r,
		})
}

// outcome is what one reconcile of a stack found.
type outcome struct{ err error }

// Err returns the failure, nil on success.
func (o outcome) Err() error { return o.err }

// Fields returns the stack's fields the skeleton reads and writes.
func (r *Reconciler) Fields(obj *hopsv1.FluxGitopsStack) reconcile.Fields {
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: obj.Status.Source.Revision,
	}
}

// Summarize writes Ready from the outcome; the components' conditions are already written.
func (r *Reconciler) Summarize(obj *hopsv1.FluxGitopsStack, out outcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if out.err == nil {
		obj.Status.Ready = true
		conds.Ready(ReasonSucceeded, fmt.Sprintf("stack ready: repository %s at revision %s", obj.Status.Repository.URL, obj.Status.Source.Revision))
		return
	}
	obj.Status.Ready = false
	conds.NotReady(reconcile.Reason(out.err, compat.ReconciliationFailedReason), out.err.Error(), reconcile.IsStalled(out.err))
}

// Report records nothing more: the steps record their events as they act.
func (r *Reconciler) Report(*hopsv1.FluxGitopsStack, outcome, time.Duration) {}

// EventMetadata is empty.
func (r *Reconciler) EventMetadata(*hopsv1.FluxGitopsStack, outcome) map[string]string { return nil }

// Requeue keeps the skeleton's decision.
func (r *Reconciler) Requeue(_ *hopsv1.FluxGitopsStack, _ outcome, res ctrl.Result) ctrl.Result {
	return res
}

// Forget has nothing to drop.
func (r *Reconciler) Forget(types.NamespacedName) {}

// component is the result of one step: ready, waiting (msg, no error) or failed (err).
type component struct {
	msg string
	err error
}

// Run reconciles the components in order; a failed component does not stop the ones that do
// not depend on it. The outcome is the failures joined, or in progress while a component is
// not ready yet.
func (r *Reconciler) Run(ctx context.Context, stack *hopsv1.FluxGitopsStack, _ func(string)) outcome {
	stack.Status.Ready = false
	conds := reconcile.Conditions{List: &stack.Status.Conditions, Generation: stack.Generation}
	var errs []error
	var waiting []string
	record := func(cond, okReason, okMsg string, c component) bool {
		switch {
		case c.err != nil:
			conds.False(cond, reconcile.Reason(c.err, ReasonApplyFailed), c.err.Error())
			errs = append(errs, c.err)
			return false
		case c.msg != "":
			conds.Set(cond, metav1.ConditionUnknown, ReasonProgressing, c.msg)
			waiting = append(waiting, c.msg)
			return false
		}
		conds.True(cond, okReason, okMsg)
		return true
	}

	cr, credErr := readCredentials(ctx, r.APIReader, stack)
	repo := r.stepRepository(ctx, stack, cr, credErr)
	record(RepositoryReadyCondition, ReasonSucceeded, "repository "+stack.Status.Repository.URL, repo)

	if engineEnabled(&stack.Spec) {
		msg, err := r.reconcileEngine(ctx, stack)
		record(EngineReadyCondition, ReasonEngineInstalled, "weir's chart installed by HelmRelease "+r.Namespace+"/"+EngineName, component{msg, err})
	} else {
		conds.Delete(EngineReadyCondition)
	}

	if stack.Spec.NodePool.Enabled {
		record(NodePoolReadyCondition, ReasonSucceeded, "NodePool "+nodePoolName(&stack.Spec)+" applied", r.stepNodePool(ctx, stack))
	} else {
		conds.Delete(NodePoolReadyCondition)
		errs = appendErr(errs, r.deleteOwned(ctx, stack, nodePool(stack)))
	}

	auth, authComp := r.stepAuth(ctx, stack, cr, credErr)
	if stack.Spec.ExternalSecrets.Enabled {
		record(ExternalSecretReadyCondition, ReasonSucceeded, "ExternalSecret "+r.Namespace+"/"+AuthSecretName+" synced", authComp)
	} else {
		conds.Delete(ExternalSecretReadyCondition)
		if authComp.err != nil {
			errs = append(errs, authComp.err)
		}
	}

	source := r.stepSource(ctx, stack, auth)
	sourceReady := record(SourceReadyCondition, ReasonSucceeded, "GitRepository "+r.Namespace+"/"+SourceName+" at "+stack.Status.Source.Revision, source)

	ks := r.stepKustomizations(ctx, stack, sourceReady)
	record(KustomizationsReadyCondition, ReasonSucceeded, "Kustomizations applied "+stack.Status.Source.Revision, ks)

	switch {
	case len(errs) > 0:
		return outcome{err: errors.Join(errs...)}
	case len(waiting) > 0:
		return outcome{err: reconcile.InProgress(waitComponent, strings.Join(waiting, "; "))}
	}
	return outcome{}
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// stepRepository runs the repository step and records the repository in status and events.
func (r *Reconciler) stepRepository(ctx context.Context, stack *hopsv1.FluxGitopsStack, cr credentials, credErr error) component {
	if credErr != nil {
		return component{err: credErr}
	}
	gh, err := newClient(ctx, r.HTTPClient, cr)
	if err != nil {
		return component{err: err}
	}
	res, err := reconcileRepository(ctx, gh, stack)
	if err != nil {
		return component{err: err}
	}
	repo := res.repo
	stack.Status.Repository = hopsv1.RepositoryStatus{URL: repo.GetHTMLURL(), CloneURL: repo.GetCloneURL(), ID: repo.GetID()}
	full := stack.Spec.Repository.Org + "/" + repoName(&stack.Spec)
	switch res.action {
	case "created":
		r.Recorder.Normal(stack, ReasonRepositoryCreated, nil, "created repository %s", full)
	case "imported":
		r.Recorder.Normal(stack, ReasonRepositoryImported, nil, "imported repository %s", full)
	case "updated":
		r.Recorder.Normal(stack, ReasonRepositoryReconciled, nil, "updated repository %s to the spec", full)
	}
	return component{}
}

// stepNodePool applies the NodePool; without Karpenter's CRDs a condition says so.
func (r *Reconciler) stepNodePool(ctx context.Context, stack *hopsv1.FluxGitopsStack) component {
	if err := r.apply(ctx, nodePool(stack)); err != nil {
		if kindMissing(err) {
			return component{err: reconcile.Waiting(ReasonKarpenterNotInstalled, waitComponent,
				fmt.Errorf("nodePool.enabled but Karpenter's NodePool CRD (karpenter.sh/v1) is not installed"))}
		}
		return component{err: reconcile.Failed(ReasonApplyFailed, fmt.Errorf("apply NodePool %s: %w", nodePoolName(&stack.Spec), err))}
	}
	return component{}
}

// stepAuth makes the GitRepository's Secret: the ExternalSecret when enabled (ready once
// External Secrets synced it), else a Secret derived from the stack's GitHub credentials.
func (r *Reconciler) stepAuth(ctx context.Context, stack *hopsv1.FluxGitopsStack, cr credentials, credErr error) (authMode, component) {
	if stack.Spec.ExternalSecrets.Enabled {
		if why := validateExternalSecrets(&stack.Spec.ExternalSecrets); why != "" {
			return authApp, component{err: reconcile.Stalled(ReasonInvalidExternalSecrets, errors.New(why))}
		}
		base := cr.apiURL
		if credErr != nil {
			base = apiURL(&stack.Spec, nil)
		}
		es := externalSecret(stack, r.Namespace, base)
		if err := r.dropDerivedSecret(ctx, stack); err != nil {
			return authApp, component{err: err}
		}
		if err := r.apply(ctx, es); err != nil {
			if kindMissing(err) {
				return authApp, component{err: reconcile.Waiting(ReasonExternalSecretsNotInstalled, waitComponent,
					fmt.Errorf("externalSecrets.enabled but the External Secrets CRDs (external-secrets.io/v1 ExternalSecret) are not installed"))}
			}
			return authApp, component{err: reconcile.Failed(ReasonApplyFailed, fmt.Errorf("apply ExternalSecret %s/%s: %w", r.Namespace, AuthSecretName, err))}
		}
		if msg, ok := externalSecretSynced(es); !ok {
			return authApp, component{err: reconcile.Waiting(ReasonExternalSecretNotSynced, waitComponent,
				fmt.Errorf("ExternalSecret %s/%s has not synced: %s", r.Namespace, AuthSecretName, msg))}
		}
		return authApp, component{}
	}
	// A Secret from the stack's credentials; none when they cannot be read (the repository
	// step reports why). An ExternalSecret of an earlier spec goes, with the Secret it owns.
	if err := r.deleteOwned(ctx, stack, externalSecret(stack, r.Namespace, DefaultAPIURL)); err != nil {
		return authNone, component{err: err}
	}
	if credErr != nil {
		return authNone, component{}
	}
	sec, mode := authSecret(stack, r.Namespace, cr)
	if err := r.apply(ctx, sec); err != nil {
		return mode, component{err: reconcile.Failed(ReasonApplyFailed, fmt.Errorf("apply Secret %s/%s: %w", r.Namespace, AuthSecretName, err))}
	}
	return mode, component{}
}

// dropDerivedSecret deletes the Secret gitops-auth that the stack derived from its credentials
// (not one External Secrets owns): External Secrets refuses to take over a Secret it did not
// create.
func (r *Reconciler) dropDerivedSecret(ctx context.Context, stack *hopsv1.FluxGitopsStack) error {
	sec, _ := authSecret(stack, r.Namespace, credentials{})
	live, err := r.getMeta(ctx, sec)
	if err != nil || live == nil || !ownedBy(live, stack) {
		return err
	}
	for _, o := range live.GetOwnerReferences() {
		if o.Kind == externalSecretGVK[2] {
			return nil
		}
	}
	if err := r.Delete(ctx, live); client.IgnoreNotFound(err) != nil {
		return reconcile.Failed(ReasonApplyFailed, fmt.Errorf("delete Secret %s/%s: %w", r.Namespace, AuthSecretName, err))
	}
	return nil
}

// externalSecretSynced reads External Secrets' Ready condition from the applied object.
func externalSecretSynced(es *unstructured.Unstructured) (string, bool) {
	conds, _, _ := unstructured.NestedSlice(es.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		msg, _ := m["message"].(string)
		return msg, m["status"] == "True"
	}
	return "no status yet", false
}

// stepSource applies the GitRepository once the repository's URL is known and reports its
// readiness and revision.
func (r *Reconciler) stepSource(ctx context.Context, stack *hopsv1.FluxGitopsStack, auth authMode) component {
	url := stack.Status.Repository.CloneURL
	if url == "" {
		return component{msg: "waiting for the repository's URL"}
	}
	if err := r.apply(ctx, gitRepository(stack, r.Namespace, url, auth)); err != nil {
		return component{err: reconcile.Failed(ReasonApplyFailed, fmt.Errorf("apply GitRepository %s/%s: %w", r.Namespace, SourceName, err))}
	}
	var gr sourcev1.GitRepository
	if err := r.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: SourceName}, &gr); err != nil {
		return component{msg: "waiting for GitRepository " + r.Namespace + "/" + SourceName}
	}
	stack.Status.Source = hopsv1.SourceStatus{}
	if a := gr.Status.Artifact; a != nil {
		stack.Status.Source.Revision = a.Revision
	}
	msg := notReady(gr.Generation, gr.Status.ObservedGeneration, gr.Status.Conditions)
	stack.Status.Source.Ready = msg == ""
	if msg != "" {
		return component{msg: "GitRepository " + r.Namespace + "/" + SourceName + ": " + msg}
	}
	return component{}
}

// stepKustomizations applies the enabled Kustomizations once the source is Ready, deletes the
// disabled ones the stack created, and reports them.
func (r *Reconciler) stepKustomizations(ctx context.Context, stack *hopsv1.FluxGitopsStack, sourceReady bool) component {
	var waiting []string
	var errs []error
	status := map[string]hopsv1.KustomizationStatus{}
	for _, k := range kustomizations(&stack.Spec) {
		if !k.enabled {
			errs = appendErr(errs, r.deleteOwned(ctx, stack, kustomizationObject(stack, r.Namespace, k)))
			continue
		}
		var ks kustomizev1.Kustomization
		exists := r.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: k.name}, &ks) == nil
		if !sourceReady && !exists {
			status[k.name] = hopsv1.KustomizationStatus{}
			waiting = append(waiting, "Kustomization "+k.name+" waits for the source")
			continue
		}
		if err := r.apply(ctx, kustomizationObject(stack, r.Namespace, k)); err != nil {
			errs = append(errs, reconcile.Failed(ReasonApplyFailed, fmt.Errorf("apply Kustomization %s/%s: %w", r.Namespace, k.name, err)))
			continue
		}
		if !exists {
			status[k.name] = hopsv1.KustomizationStatus{}
			waiting = append(waiting, "Kustomization "+k.name+" created")
			continue
		}
		msg := notReady(ks.Generation, ks.Status.ObservedGeneration, ks.Status.Conditions)
		status[k.name] = hopsv1.KustomizationStatus{Ready: msg == "", LastAppliedRevision: ks.Status.LastAppliedRevision}
		if msg != "" {
			waiting = append(waiting, "Kustomization "+k.name+": "+msg)
		}
	}
	stack.Status.Kustomizations = status
	if len(status) == 0 {
		stack.Status.Kustomizations = nil
	}
	switch {
	case len(errs) > 0:
		return component{err: errors.Join(errs...)}
	case len(waiting) > 0:
		return component{msg: strings.Join(waiting, "; ")}
	}
	return component{}
}

// readiness reports a Flux object's readiness: "" when Ready, else why not.
func (r *Reconciler) readiness(ctx context.Context, namespace, name, kind string) (string, error) {
	switch kind {
	case "HelmRelease":
		var hr helmv2.HelmRelease
		if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &hr); err != nil {
			return "waiting for HelmRelease " + namespace + "/" + name, nil //nolint:nilerr // not in the cache yet
		}
		if msg := notReady(hr.Generation, hr.Status.ObservedGeneration, hr.Status.Conditions); msg != "" {
			return "HelmRelease " + namespace + "/" + name + ": " + msg, nil
		}
	}
	return "", nil
}

// notReady says why a Flux object is not ready ("" when it is): its generation not observed
// yet, or its Ready condition's message.
func notReady(generation, observed int64, conds []metav1.Condition) string {
	c := apimeta.FindStatusCondition(conds, compat.ReadyCondition)
	switch {
	case observed != generation || c == nil:
		return "reconciliation in progress"
	case c.Status != metav1.ConditionTrue:
		return c.Message
	}
	return ""
}

// kindMissing reports whether err says that the object's kind is not served: no mapping, or
// a 404 for the resource itself (a CRD removed after the mapping was cached).
func kindMissing(err error) bool {
	return apimeta.IsNoMatchError(err) || apierrors.IsNotFound(err)
}

// apply server-side applies u as the stack's field manager, and keeps the server's answer in u.
func (r *Reconciler) apply(ctx context.Context, u *unstructured.Unstructured) error {
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return err
	}
	return nil
}

// deleteOwned deletes the object named like u if the stack created it; no CRD means nothing to
// delete.
func (r *Reconciler) deleteOwned(ctx context.Context, stack *hopsv1.FluxGitopsStack, u *unstructured.Unstructured) error {
	live, err := r.getMeta(ctx, u)
	if err != nil || live == nil {
		return err
	}
	if !ownedBy(live, stack) || !live.GetDeletionTimestamp().IsZero() {
		return nil
	}
	if err := r.Delete(ctx, live); client.IgnoreNotFound(err) != nil {
		return reconcile.Failed(ReasonApplyFailed, fmt.Errorf("delete %s %s: %w", u.GetKind(), u.GetName(), err))
	}
	return nil
}
