package shard

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Gate is the reconcile.Gate of an automatically sharded replica: it lets a reconcile start
// only for an object the replica owns now, and keeps the in-flight ones so that the replica
// publishes a view giving an object away only once it is done with it.
type Gate struct {
	// Reader, when set, lets keys follow references through the cache (KeyIn).
	Reader client.Reader

	mu       sync.Mutex
	p        *Protocol
	next     uint64
	inflight map[uint64]flight
	// drained is signalled (without blocking) whenever a reconcile ends.
	drained chan struct{}
	// validUntil is the last renewal plus the renew deadline: past it the replica owns nothing
	// (fence fires then), whatever its loop is doing.
	validUntil time.Time
	fenceTimer *time.Timer
}

type flight struct {
	key    string
	cancel context.CancelFunc
}

// NewGate returns the Gate of the member me; it owns nothing until its Membership sees a
// converged view.
func NewGate(me string) *Gate {
	return &Gate{p: &Protocol{Me: me}, inflight: map[uint64]flight{}, drained: make(chan struct{}, 1)}
}

// Begin implements reconcile.Gate.
func (g *Gate) Begin(ctx context.Context, obj client.Object) (context.Context, func(), bool) {
	key := KeyIn(ctx, g.Reader, obj)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !time.Now().Before(g.validUntil) || !g.p.Owns(key) {
		return ctx, nil, false
	}
	ctx, cancel := context.WithCancel(ctx)
	id := g.next
	g.next++
	g.inflight[id] = flight{key: key, cancel: cancel}
	ctx = logr.NewContext(ctx, ctrl.LoggerFrom(ctx).WithValues("replica", g.p.Me))
	return ctx, func() {
		g.mu.Lock()
		delete(g.inflight, id)
		g.mu.Unlock()
		cancel()
		select {
		case g.drained <- struct{}{}:
		default:
		}
	}, true
}

// Owns reports whether the replica may reconcile obj now.
func (g *Gate) Owns(obj client.Object) bool {
	key := KeyIn(context.Background(), g.Reader, obj)
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Now().Before(g.validUntil) && g.p.Owns(key)
}

// InFlight returns how many reconciles are running under the Gate.
func (g *Gate) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.inflight)
}

// renewed records a renewal of the replica's Lease started at at: it owns what the protocol
// gives it until at+deadline, and is fenced then unless renewed again.
func (g *Gate) renewed(at time.Time, deadline time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.validUntil = at.Add(deadline)
	if g.fenceTimer != nil {
		g.fenceTimer.Stop()
	}
	g.fenceTimer = time.AfterFunc(time.Until(g.validUntil), func() { g.fence(true) })
}

// fence makes the replica own nothing; cancel also cancels the running reconciles' contexts.
func (g *Gate) fence(cancel bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.p.Fence()
	if g.fenceTimer != nil {
		g.fenceTimer.Stop()
	}
	if cancel {
		for _, f := range g.inflight {
			f.cancel()
		}
	}
}

// drainedFor reports whether no in-flight reconcile is of a key v gives to another member.
// The caller holds g.mu.
func (g *Gate) drainedFor(v View) bool {
	for _, f := range g.inflight {
		if v.Owner(f.key) != g.p.Me {
			return false
		}
	}
	return true
}

// step runs f on the protocol under the lock and returns a copy of it before and after.
func (g *Gate) step(f func(p *Protocol, drained func(View) bool)) (before, after *Protocol) {
	g.mu.Lock()
	defer g.mu.Unlock()
	before = g.p.clone()
	f(g.p, g.drainedFor)
	return before, g.p.clone()
}
