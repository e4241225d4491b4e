package kustomize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/healthwatch"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/target"
	"github.com/weirgitops/weir/internal/workspace"
)

// ControllerName is the reporting controller of Kustomization events, Flux's name for it.
const ControllerName = "kustomize-controller"

// Reconciler reconciles Kustomizations.
type Reconciler struct {
	client.Client
	// APIReader reads Secrets, ConfigMaps and applied objects straight from the API server.
	APIReader client.Reader
	Store     *artifact.Store
	Recorder  *event.Recorder

	RequeueDependency time.Duration
	// Retry spaces the retries of failing Kustomizations and raises tiny intervals.
	Retry *reconcile.Retry
	// Gates are the feature gates in force (--feature-gates).
	Gates                 features.Gates
	NoCrossNamespaceRefs  bool
	NoRemoteBases         bool
	DefaultServiceAccount string
	// DefaultKubeConfigServiceAccount is the ServiceAccount of kubeConfig.configMapRef when its
	// ConfigMap names none (--default-kubeconfig-service-account).
	DefaultKubeConfigServiceAccount string
	// TempDir is where artifacts are unpacked (the system's when empty); BuildCacheSize how
	// many builds are kept.
	TempDir        string
	BuildCacheSize int
	// KubeConfigs is what the kubeconfig Secrets of spec.kubeConfig may hold.
	KubeConfigs target.KubeConfigPolicy
	// ConcurrentSSA bounds the objects compared and applied at once (--concurrent-ssa);
	// OverrideManagers are field managers whose fields are taken over like kubectl's
	// (--override-manager); CustomStageKinds are applied in a stage of their own before the
	// rest (--custom-apply-stage-kinds).
	ConcurrentSSA    int
	OverrideManagers []string
	CustomStageKinds []schema.GroupKind
	// ConfigsSelector, when set, limits the ConfigMaps and Secrets whose changes trigger their
	// Kustomizations (--watch-configs-label-selector); nil watches every referenced one.
	ConfigsSelector labels.Selector
	// Decryption are the controller-level SOPS settings (--sops-age-secret,
	// --sops-vault-configmap, --default-decryption-service-account).
	Decryption Decryption

	workspaces *workspace.Workspaces
	targets    *target.Factory
	builds     buildCache
	// kustomized keeps the kustomize stage's results of recent builds (before substitution)
	// by artifact digest, path and overrides: see kustomize.
	kustomized buildCache
	// health watches the objects of health checks; pending holds the waits in progress.
	health  *healthwatch.Watcher
	pending pendingWaits

	// inputs holds, per Kustomization, what its last successful build read.
	inputsMu sync.Mutex
	inputs   map[types.NamespacedName]*inputState
}

func (r *Reconciler) lastInputs(ks *kustomizev1.Kustomization) (*inputState, bool) {
	r.inputsMu.Lock()
	defer r.inputsMu.Unlock()
	s, ok := r.inputs[types.NamespacedName{Namespace: ks.Namespace, Name: ks.Name}]
	return s, ok
}

func (r *Reconciler) storeInputs(ks *kustomizev1.Kustomization, s *inputState) {
	r.inputsMu.Lock()
	defer r.inputsMu.Unlock()
	key := types.NamespacedName{Namespace: ks.Namespace, Name: ks.Name}
	if s == nil {
		delete(r.inputs, key)
		return
	}
	if r.inputs == nil {
		r.inputs = map[types.NamespacedName]*inputState{}
	}
	r.inputs[key] = s
}

// skeleton returns the Reconciler of Kustomizations: weir's one skeleton with r's steps.
func (r *Reconciler) skeleton() *reconcile.Skeleton[*kustomizev1.Kustomization, outcome] {
	return &reconcile.Skeleton[*kustomizev1.Kustomization, outcome]{
		Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
		GroupVersion: kustomizev1.GroupVersion, Kind: kustomizev1.KustomizationKind,
		New: func() *kustomizev1.Kustomization { return &kustomizev1.Kustomization{} }, Steps: r,
	}
}

// Fields returns the Kustomization's fields the skeleton reads and writes.
func (r *Reconciler) Fields(ks *kustomizev1.Kustomization) reconcile.Fields {
	return reconcile.Fields{
		Conditions: &ks.Status.Conditions, ObservedGeneration: &ks.Status.ObservedGeneration,
		LastHandledReconcileAt: &ks.Status.LastHandledReconcileAt, Suspended: ks.Spec.Suspend,
		Interval: ks.Spec.Interval.Duration, RetryInterval: ks.GetRetryInterval(), Revision: ks.Status.LastAppliedRevision,
	}
}

// Run applies the Kustomization's source revision.
func (r *Reconciler) Run(ctx context.Context, ks *kustomizev1.Kustomization, progress func(string)) outcome {
	return r.reconcile(ctx, ks, progress)
}

// Summarize writes the outcome into the conditions and records the status.history snapshot.
func (r *Reconciler) Summarize(ks *kustomizev1.Kustomization, out outcome, took time.Duration) {
	r.summarize(ks, out)
	reconcile.RecordHistory(&ks.Status.History, out.manifests, took, reconcile.ReadyReason(ks.Status.Conditions), out.revision, out.origin)
}

// Report records what changed and the success.
func (r *Reconciler) Report(ks *kustomizev1.Kustomization, out outcome, took time.Duration) {
	r.report(ks, out, took)
}

// EventMetadata is the revision attempted, the phase times and the commit-status mark.
func (r *Reconciler) EventMetadata(_ *kustomizev1.Kustomization, out outcome) map[string]string {
	return out.final()
}

// Requeue reruns at once when a newer revision waits, and puts timer-driven work — interval
// re-applies and the retries of failures — behind work a change triggered, so that objects
// that keep failing never hold up the others' pushes.
func (r *Reconciler) Requeue(_ *kustomizev1.Kustomization, out outcome, res ctrl.Result) ctrl.Result {
	if out.again {
		res.RequeueAfter = time.Millisecond
		return res
	}
	low := lowPriority
	res.Priority = &low
	return res
}

// Forget drops what is kept in memory about a deleted Kustomization.
func (r *Reconciler) Forget(key types.NamespacedName) {
	r.dropWait(key)
	r.inputsMu.Lock()
	delete(r.inputs, key)
	r.inputsMu.Unlock()
}

// lowPriority is the work-queue priority of timer-driven requeues (intervals and retries);
// events (a new artifact, a dependency turning Ready, a reconcile request) enqueue at the
// default, higher priority.
const lowPriority = -100

// outcome is what one reconcile did.
type outcome struct {
	// unchanged is set when the new revision left the build's inputs identical, so nothing
	// was built or applied; previous is the revision applied before.
	unchanged bool
	previous  string
	phases    phases
	err       error
	// revision is the source revision attempted.
	revision string
	// changes lists applied and pruned objects ("Deployment/ns/app configured").
	changes []string
	// healthChecked is set when health checks ran and passed.
	healthChecked time.Duration
	checked       bool
	// newRevision is set when the applied revision differs from the last applied one.
	newRevision bool
	// manifests is the digest of the objects built (or, unchanged, last built), and origin the
	// source's origin revision: with revision they make the status.history snapshot.
	manifests, origin string
	// again is set when a newer revision waits to be applied right after this reconcile.
	again bool
}

// reconcile runs the steps. progress records a message about a step that can take long; it is
// called for new work only (a new source revision or spec generation): a re-apply of what is
// already applied, such as an interval's drift correction, reports its outcome only.
// Err returns the failure, nil on success.
func (o outcome) Err() error { return o.err }

// metadata is the events' metadata: the revision attempted and the phase times.
func (o outcome) metadata() map[string]string {
	meta := map[string]string{}
	if o.revision != "" {
		meta[compat.RevisionMetaKey] = o.revision
	}
	if o.origin != "" {
		meta[compat.OriginRevisionMetaKey] = o.origin
	}
	if len(o.phases) > 0 {
		meta["phases"] = o.phases.String()
	}
	return meta
}

// final is the metadata of the event that ends a reconcile: metadata with the mark that makes
// notification providers post a commit status, as Flux's kustomize-controller sends it.
func (o outcome) final() map[string]string {
	meta := o.metadata()
	meta[compat.CommitStatusMetaKey] = compat.CommitStatusUpdate
	return meta
}

func (r *Reconciler) reconcile(ctx context.Context, ks *kustomizev1.Kustomization, progress func(msg string)) (out outcome) {
	out.phases = phases{}
	defer func() {
		if out.err != nil {
			r.storeInputs(ks, nil)
		}
		out.phases.observe()
	}()
	var src sourceArtifact
	var err error
	out.phases.track(phaseFetch, func() { src, err = r.getSource(ctx, ks) })
	if err != nil {
		out.err = err
		return out
	}
	out.revision, out.origin = src.artifact.Revision, src.originRevision()
	if ks.Status.LastAppliedRevision != src.artifact.Revision {
		out.phases[phaseQueue] = time.Since(src.artifact.LastUpdateTime.Time)
	}
	newWork := ks.Status.LastAppliedRevision != src.artifact.Revision || ks.Status.ObservedGeneration != ks.Generation ||
		!reconcile.IsReady(ks.Status.Conditions)
	if !newWork {
		progress = func(string) {}
	}
	ks.Status.LastAttemptedRevision = src.artifact.Revision
	out.phases.track(phaseDependencies, func() { err = r.checkDependencies(ctx, ks, src) })
	if err != nil {
		out.err = err
		return out
	}
	if p := r.resumable(ks, src.artifact.Revision); p != nil {
		// A health wait in progress: only the health is looked at again. Without
		// CancelHealthCheckOnNewRevision it may be the wait of an older revision, which ends
		// before the new revision is applied.
		out.revision, out.origin = p.src.artifact.Revision, p.src.originRevision()
		ks.Status.LastAttemptedRevision = p.src.artifact.Revision
		out.phases.track(phaseHealth, func() { err = r.checkHealth(ctx, ks, p) })
		// Once the older revision's wait is over, whatever its outcome, the newer one is next.
		out.again = p.src.artifact.Revision != src.artifact.Revision && !reconcile.IsInProgress(err)
		if err != nil {
			out.err = err
			return out
		}
		out.checked, out.healthChecked = true, time.Since(p.started)
		out.manifests = p.state.manifests
		r.recordApplied(ks, p.src, p.state, &out)
		return out
	}
	var unchanged bool
	vars := &varsRead{}
	out.phases.track(phaseBuild, func() { unchanged = r.unchangedInputs(ctx, ks, src, vars) })
	if unchanged {
		if last, ok := r.lastInputs(ks); ok {
			out.manifests = last.manifests
		}
		out.unchanged, out.newRevision, out.previous = true, true, ks.Status.LastAppliedRevision
		ks.Status.LastAppliedRevision = src.artifact.Revision
		appliedSeconds.WithLabelValues(ks.Namespace, ks.Name).Observe(time.Since(src.artifact.LastUpdateTime.Time).Seconds())
		return out
	}
	progress(fmt.Sprintf("Fetching manifests for revision %s with a timeout of %s", src.artifact.Revision, ks.GetTimeout()))
	state := &inputState{generation: ks.Generation}
	var objs []*unstructured.Unstructured
	out.phases.track(phaseBuild, func() { objs, err = r.buildObjects(ctx, ks, src, state, vars) })
	if err != nil {
		out.err = err
		return out
	}
	out.manifests = state.manifests
	c, err := r.clientFor(ctx, ks)
	if err != nil {
		out.err = err
		return out
	}
	var changes []string
	var applied []*unstructured.Unstructured
	out.phases.track(phaseApply, func() { changes, applied, err = r.applyAndPrune(ctx, c, ks, objs, state.sensitive) })
	out.changes = changes
	if err != nil {
		out.err = err
		return out
	}
	targets, err := healthTargets(ks, applied)
	if err != nil {
		out.err = reconcile.Stalled(compat.HealthCheckFailedReason, err)
		return out
	}
	if len(targets) > 0 {
		// The inventory and the attempted revision reach the status before the wait.
		progress(fmt.Sprintf("Running health checks for revision %s with a timeout of %s", src.artifact.Revision, ks.GetTimeout()))
		p, err := r.startHealthWait(ks, src, targets, state, c)
		if err == nil {
			out.phases.track(phaseHealth, func() { err = r.checkHealth(ctx, ks, p) })
		}
		if err != nil {
			out.err = err
			return out
		}
		out.checked, out.healthChecked = true, time.Since(p.started)
	}
	r.recordApplied(ks, src, state, &out)
	return out
}

// recordApplied records a revision applied (and found healthy, when checked): the applied
// revisions, the latency metric and the build's inputs for the next revision.
func (r *Reconciler) recordApplied(ks *kustomizev1.Kustomization, src sourceArtifact, state *inputState, out *outcome) {
	out.newRevision = ks.Status.LastAppliedRevision != src.artifact.Revision
	if out.newRevision {
		appliedSeconds.WithLabelValues(ks.Namespace, ks.Name).Observe(time.Since(src.artifact.LastUpdateTime.Time).Seconds())
	}
	ks.Status.LastAppliedRevision = src.artifact.Revision
	ks.Status.LastAppliedOriginRevision = src.originRevision()
	if state.vars != "" {
		r.storeInputs(ks, state)
	}
}

// summarize writes the outcome into the conditions and bookkeeping fields.
func (r *Reconciler) summarize(ks *kustomizev1.Kustomization, out outcome) {
	conds := reconcile.Conditions{List: &ks.Status.Conditions, Generation: ks.Generation}
	hasChecks := ks.Spec.Wait || len(ks.Spec.HealthChecks) > 0
	if out.err == nil {
		if out.checked {
			conds.True(compat.HealthyCondition, compat.SucceededReason, fmt.Sprintf("Health check passed in %s", out.healthChecked.Round(time.Millisecond)))
		} else if !hasChecks {
			conds.Delete(compat.HealthyCondition)
		}
		conds.Ready(compat.ReconciliationSucceededReason, fmt.Sprintf("Applied revision: %s", ks.Status.LastAppliedRevision))
		return
	}
	reason := reconcile.Reason(out.err, compat.ReconciliationFailedReason)
	msg := out.err.Error()
	if reason == compat.HealthCheckFailedReason {
		conds.False(compat.HealthyCondition, reason, msg)
	}
	conds.NotReady(reason, msg, reconcile.IsStalled(out.err))
}

// report records the events of a reconcile: what changed, and the success; the skeleton
// records failures.
func (r *Reconciler) report(ks *kustomizev1.Kustomization, out outcome, took time.Duration) {
	meta := out.metadata()
	if len(out.changes) > 0 {
		// The token tells this change set from another of the same revision (a drift
		// correction), which the notification-controller would otherwise drop as a duplicate.
		lines := joinLines(out.changes)
		sum := sha256.Sum256([]byte(lines))
		meta[compat.TokenMetaKey] = hex.EncodeToString(sum[:])
		r.Recorder.Normal(ks, compat.ProgressingReason, meta, "%s", lines)
	}
	meta = out.final()
	switch {
	case out.err == nil && out.unchanged:
		path := ks.Spec.Path
		if path == "" {
			path = "./"
		}
		r.Recorder.Normal(ks, compat.ReconciliationSucceededReason, meta,
			"No changes in the inputs of %s since %s: revision %s recorded as applied without a rebuild", path, out.previous, out.revision)
	case out.err == nil && (out.newRevision || len(out.changes) > 0):
		r.Recorder.Normal(ks, compat.ReconciliationSucceededReason, meta, "Reconciliation finished in %s, next run in %s",
			took.Round(time.Millisecond), ks.Spec.Interval.Duration)
	}
}

func joinLines(lines []string) string {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	b := make([]byte, 0, n)
	for i, l := range lines {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l...)
	}
	return string(b)
}

// clientFor returns the client the Kustomization applies with (see target.Factory.For).
func (r *Reconciler) clientFor(ctx context.Context, ks *kustomizev1.Kustomization) (client.Client, error) {
	return r.targets.For(ctx, target.Spec{Namespace: ks.Namespace, ServiceAccountName: ks.Spec.ServiceAccountName, KubeConfig: ks.Spec.KubeConfig})
}
