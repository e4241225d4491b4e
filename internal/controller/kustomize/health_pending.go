package kustomize

import (
	"context"
	"fmt"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/health"
	"github.com/weirgitops/weir/internal/healthwatch"
	"github.com/weirgitops/weir/internal/reconcile"
)

// pollInterval is how often a wait re-reads objects that its informers cannot serve.
const pollInterval = 5 * time.Second

// pendingHealth is a health wait in progress: the Kustomization applied revision at
// generation and waits, without holding a worker, until its targets are healthy or deadline.
type pendingHealth struct {
	// src is the source artifact whose revision was applied.
	src         sourceArtifact
	revision    string
	generation  int64
	requestedAt string
	targets     []health.ObjectID
	eval        *health.Evaluator
	started     time.Time
	deadline    time.Time
	// state is what the build read, stored as the last good build once the wait passes.
	state *inputState
	// remote, for a Kustomization that applies to another cluster (spec.kubeConfig), reads
	// the targets there: the informer cache does not see that cluster, so they are polled.
	remote client.Client
}

// pendingWaits holds the health waits in progress, by Kustomization.
type pendingWaits struct {
	mu    sync.Mutex
	waits map[types.NamespacedName]*pendingHealth
}

func (p *pendingWaits) get(key types.NamespacedName) *pendingHealth {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waits[key]
}

func (p *pendingWaits) put(key types.NamespacedName, w *pendingHealth) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w == nil {
		delete(p.waits, key)
		return
	}
	if p.waits == nil {
		p.waits = map[types.NamespacedName]*pendingHealth{}
	}
	p.waits[key] = w
}

// resumable returns the wait in progress that this reconcile continues: same generation, no new
// reconcile request, and the same source revision (any revision when the gate
// CancelHealthCheckOnNewRevision is off: the wait of the older one goes on). Any other wait is
// dropped.
func (r *Reconciler) resumable(ks *kustomizev1.Kustomization, revision string) *pendingHealth {
	key := types.NamespacedName{Namespace: ks.Namespace, Name: ks.Name}
	p := r.pending.get(key)
	if p == nil {
		return nil
	}
	same := p.generation == ks.Generation && p.requestedAt == ks.GetAnnotations()[compat.ReconcileRequestAnnotation]
	if same && (p.revision == revision || !r.Gates.Enabled(features.CancelHealthCheckOnNewRevision)) {
		return p
	}
	r.dropWait(key)
	return nil
}

// dropWait forgets the wait in progress of key and its watches.
func (r *Reconciler) dropWait(key types.NamespacedName) {
	r.pending.put(key, nil)
	if r.health != nil {
		r.health.Forget(key)
	}
}

// startHealthWait begins a health wait for the targets of the revision just applied.
// c is the client the Kustomization applied with; it reads the targets of a remote cluster.
func (r *Reconciler) startHealthWait(ks *kustomizev1.Kustomization, src sourceArtifact, targets []health.ObjectID, state *inputState, c client.Client) (*pendingHealth, error) {
	eval, err := health.NewEvaluator(ks.Spec.HealthCheckExprs)
	if err != nil {
		return nil, reconcile.Stalled(compat.InvalidCELExpressionReason, err)
	}
	now := time.Now()
	p := &pendingHealth{
		src: src, revision: src.artifact.Revision, generation: ks.Generation, requestedAt: ks.GetAnnotations()[compat.ReconcileRequestAnnotation],
		targets: targets, eval: eval, started: now, deadline: now.Add(ks.GetTimeout()), state: state,
	}
	if ks.Spec.KubeConfig != nil {
		p.remote = c
	}
	return p, nil
}

// checkHealth looks at the targets of the wait p through the informer cache (on a remote
// cluster, by reading them there): nil when all are healthy, a HealthCheckFailed error when
// one failed for good or the timeout passed, and an in-progress result otherwise, leaving the
// wait registered so that a change of any target (or, remote, the next poll) reconciles the
// Kustomization again. The worker is free meanwhile.
func (r *Reconciler) checkHealth(ctx context.Context, ks *kustomizev1.Kustomization, p *pendingHealth) error {
	key := types.NamespacedName{Namespace: ks.Namespace, Name: ks.Name}
	var st healthwatch.Status
	if p.remote != nil {
		st = healthwatch.Status{Objects: pollHealth(ctx, p.remote, p.eval, p.targets), Polled: true}
	} else {
		st = r.health.Check(ctx, key, p.targets, p.eval)
	}
	elapsed := time.Since(p.started)
	switch health.Aggregate(st.Objects) {
	case status.CurrentStatus:
		r.dropWait(key)
		return nil
	case status.FailedStatus:
		if stalled := health.StalledError(st.Objects); stalled != nil && !r.Gates.Enabled(features.DisableFailFastBehavior) {
			r.dropWait(key)
			return reconcile.Failed(compat.HealthCheckFailedReason, health.CheckFailed(elapsed, stalled))
		}
	}
	remaining := time.Until(p.deadline)
	if remaining <= 0 {
		r.dropWait(key)
		return reconcile.Failed(compat.HealthCheckFailedReason, health.CheckFailed(elapsed, health.TimeoutError(st.Objects)))
	}
	r.pending.put(key, p)
	after := remaining
	if st.Polled {
		after = min(after, pollInterval)
	}
	return reconcile.InProgress(after, fmt.Sprintf("Running health checks for revision %s with a timeout of %s", p.revision, ks.GetTimeout()))
}
