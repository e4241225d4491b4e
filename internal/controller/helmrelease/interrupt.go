package helmrelease

import (
	"context"
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// errInterrupted is the cause of an action canceled because its inputs changed.
var errInterrupted = errors.New("interrupted by a new chart, new values or a new spec")

// running holds the cancel functions of the Helm actions under way, so that a new chart,
// values or spec ends the wait of the action that uses the old ones: a release never waits out
// a timeout for something that is no longer wanted.
type running struct {
	mu      sync.Mutex
	actions map[types.NamespacedName]runningAction
}

// runningAction is one running action: its cancel function and the chart artifact it releases.
type runningAction struct {
	cancel   context.CancelCauseFunc
	artifact string
}

// start registers an action of key releasing the chart artifact (reconcile.ArtifactID of its
// source) and returns its context and its end.
func (r *running) start(ctx context.Context, key types.NamespacedName, artifact string) (context.Context, func()) {
	actx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	if r.actions == nil {
		r.actions = map[types.NamespacedName]runningAction{}
	}
	r.actions[key] = runningAction{cancel: cancel, artifact: artifact}
	r.mu.Unlock()
	return actx, func() {
		r.mu.Lock()
		delete(r.actions, key)
		r.mu.Unlock()
		cancel(nil)
	}
}

// interrupt cancels the action of key, if one runs.
func (r *running) interrupt(key types.NamespacedName) {
	r.interruptUnless(key, "")
}

// interruptUnless cancels the action of key unless it releases artifact already (a late event
// of the chart it uses).
func (r *running) interruptUnless(key types.NamespacedName, artifact string) {
	r.mu.Lock()
	a, ok := r.actions[key]
	r.mu.Unlock()
	if ok && (artifact == "" || a.artifact != artifact) {
		a.cancel(errInterrupted)
	}
}

// specChanged passes HelmRelease updates that changed the spec (its generation).
type specChanged struct {
	predicate.Funcs
	r *running
}

// Update interrupts the running action of a HelmRelease whose spec changed, and passes it.
func (p specChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld.GetGeneration() == e.ObjectNew.GetGeneration() {
		return false
	}
	p.r.interrupt(types.NamespacedName{Namespace: e.ObjectNew.GetNamespace(), Name: e.ObjectNew.GetName()})
	return true
}
