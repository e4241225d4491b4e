package shard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Label and annotation of the members' Leases.
const (
	// GroupLabel names the group a member's Lease belongs to: members of one group divide the
	// objects between them, two groups never mix.
	GroupLabel = "shard.weir.dev/group"
	// ViewAnnotation is the ID of the view a member acts on.
	ViewAnnotation = "shard.weir.dev/view"
	// LeasePrefix starts the name of every member's Lease.
	LeasePrefix = "weir-shard-"
)

// Membership keeps this replica's Lease in its group, renewed every retry period, reads the
// others', and drives the Gate's protocol from what it reads. It is a manager Runnable that
// every replica runs.
type Membership struct {
	// Reader reads Leases from the API server itself: the protocol needs fresh reads.
	Reader client.Reader
	// Client writes this replica's Lease.
	Client    client.Client
	Namespace string
	Group     string
	Gate      *Gate
	// LeaseDuration is how long a Lease lives unrenewed; RenewDeadline how long this replica
	// keeps trying to renew before it fences itself (shorter); RetryPeriod how often it renews.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Grace bounds the wait for in-flight reconciles on shutdown, before the Lease is deleted.
	Grace time.Duration
	// Objects visits every object the controllers reconcile, from their caches, and enqueues in
	// its controller each one visit returns true for.
	Objects func(ctx context.Context, visit func(client.Object) bool) error
	Log     logr.Logger

	lastRenew time.Time
	uncertain View
	reported  *Protocol
}

// NeedLeaderElection is false: every replica is a member.
func (*Membership) NeedLeaderElection() bool { return false }

// Me returns the replica's identity.
func (m *Membership) Me() string { return m.Gate.p.Me }

// LeaseName returns the name of the Lease of the member identity.
func LeaseName(identity string) string { return LeasePrefix + identity }

// Start joins the group and keeps the membership until ctx ends; it then stops reconciling,
// waits (within Grace) for the in-flight reconciles and deletes the Lease, so that the others
// take over at once. It returns an error when the Lease could not be renewed in time.
func (m *Membership) Start(ctx context.Context) error {
	m.reported = &Protocol{Me: m.Me()}
	start := time.Now()
	for {
		err := m.create(ctx)
		if err == nil {
			break
		}
		if time.Since(start) > m.RenewDeadline {
			return fmt.Errorf("create shard lease: %w", err)
		}
		m.Log.Error(err, "cannot create the shard lease, retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(m.RetryPeriod):
		}
	}
	m.Log.Info("joined the shard group", "group", m.Group, "identity", m.Me(), "lease", LeaseName(m.Me()))
	tick := time.NewTicker(m.RetryPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.leave(ctx)
			return nil
		case <-tick.C:
		}
		if err := m.tick(ctx); err != nil {
			m.Gate.fence(true)
			m.report(ctx)
			return err
		}
	}
}

// create creates the replica's Lease, publishing no view yet.
func (m *Membership) create(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.RetryPeriod)
	defer cancel()
	now := time.Now()
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName(m.Me()), Namespace: m.Namespace,
			Labels: map[string]string{GroupLabel: m.Group}},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr(m.Me()),
			LeaseDurationSeconds: ptr(int32(m.LeaseDuration.Round(time.Second) / time.Second)),
			AcquireTime:          &metav1.MicroTime{Time: now},
			RenewTime:            &metav1.MicroTime{Time: now},
		},
	}
	if err := m.Client.Create(ctx, lease); err != nil {
		return err
	}
	m.lastRenew = now
	m.Gate.renewed(now, m.RenewDeadline)
	return nil
}

// tick reads the group, advances the protocol, renews the Lease with the view to publish, and
// reports a change of ownership.
func (m *Membership) tick(ctx context.Context) error {
	if since := time.Since(m.lastRenew); since > m.RenewDeadline {
		return fmt.Errorf("shard lease %s not renewed for %s (renew deadline %s): stopping, its objects go to the other replicas",
			LeaseName(m.Me()), since.Round(time.Millisecond), m.RenewDeadline)
	}
	rctx, cancel := context.WithTimeout(ctx, m.RetryPeriod)
	defer cancel()
	var list coordinationv1.LeaseList
	var own *coordinationv1.Lease
	if err := m.Reader.List(rctx, &list, client.InNamespace(m.Namespace), client.MatchingLabels{GroupLabel: m.Group}); err != nil {
		m.Log.Error(err, "cannot read the shard leases")
	} else {
		obs, lease := m.observe(rctx, list.Items)
		own = lease
		if len(m.uncertain) > 0 && obs.Views[m.Me()] == m.uncertain.ID() {
			m.Gate.step(func(p *Protocol, _ func(View) bool) { p.Published(m.uncertain) })
		}
		m.uncertain = nil
		m.Gate.step(func(p *Protocol, _ func(View) bool) { p.Observe(obs) })
	}
	if own == nil {
		own = &coordinationv1.Lease{}
		if err := m.Reader.Get(rctx, client.ObjectKey{Namespace: m.Namespace, Name: LeaseName(m.Me())}, own); err != nil {
			m.Log.Error(err, "cannot read the shard lease")
			return nil
		}
	}
	var next View
	_, after := m.Gate.step(func(p *Protocol, drained func(View) bool) { next = p.Next(drained) })
	if after.Fenced() {
		return fmt.Errorf("shard lease %s expired for the other replicas", LeaseName(m.Me()))
	}
	now := time.Now()
	own.Spec.RenewTime = &metav1.MicroTime{Time: now}
	if own.Annotations == nil {
		own.Annotations = map[string]string{}
	}
	own.Annotations[ViewAnnotation] = next.ID()
	if err := m.Client.Update(rctx, own); err != nil {
		m.Log.Error(err, "cannot renew the shard lease")
		if next.ID() != after.published.ID() {
			m.uncertain = next
			m.Gate.step(func(p *Protocol, _ func(View) bool) { p.MaybePublished(next) })
		}
	} else {
		m.lastRenew = now
		m.Gate.renewed(now, m.RenewDeadline)
		m.Gate.step(func(p *Protocol, _ func(View) bool) { p.Published(next) })
	}
	m.report(ctx)
	return nil
}

// observe turns the Leases into an observation, deletes those long expired, and returns this
// replica's own Lease.
func (m *Membership) observe(ctx context.Context, leases []coordinationv1.Lease) (Observation, *coordinationv1.Lease) {
	now := time.Now()
	obs := Observation{Views: map[string]string{}}
	var live []string
	var own *coordinationv1.Lease
	for i := range leases {
		l := &leases[i]
		if l.Spec.HolderIdentity == nil {
			continue
		}
		id := *l.Spec.HolderIdentity
		obs.Views[id] = l.Annotations[ViewAnnotation]
		if id == m.Me() {
			own = l
			if now.Sub(m.lastRenew) < m.RenewDeadline {
				live = append(live, id)
			}
			continue
		}
		expires := expiry(l)
		if now.Before(expires) {
			live = append(live, id)
		} else if now.Sub(expires) > 10*m.LeaseDuration && strings.HasPrefix(l.Name, LeasePrefix) {
			// A replica killed long ago: nobody else removes its Lease.
			if err := m.Client.Delete(ctx, l); client.IgnoreNotFound(err) != nil {
				m.Log.V(1).Info("cannot delete an expired shard lease", "lease", l.Name, "error", err.Error())
			}
		}
	}
	obs.Live = NewView(live...)
	return obs, own
}

// expiry is when a Lease stops counting: its renew time plus its duration.
func expiry(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
}

// report logs a change of ownership, counts what this replica owns, and enqueues what it gained.
func (m *Membership) report(ctx context.Context) {
	_, now := m.Gate.step(func(*Protocol, func(View) bool) {})
	if now.state() == m.reported.state() {
		return
	}
	before := m.reported
	m.reported = now
	owned, gained := 0, 0
	if m.Objects != nil {
		if err := m.Objects(ctx, func(obj client.Object) bool {
			k := KeyIn(ctx, m.Gate.Reader, obj)
			if !now.Owns(k) {
				return false
			}
			owned++
			if before.Owns(k) {
				return false
			}
			gained++
			return true
		}); err != nil {
			m.Log.Error(err, "cannot list the objects to enqueue those this replica gained")
		}
	}
	ownedObjects.Set(float64(owned))
	members.Set(float64(len(now.Target())))
	m.Log.Info("shard view changed", "members", len(now.Target()), "view", now.Target().ID(),
		"converged", now.Converged(), "fenced", now.Fenced(), "owned", owned, "gained", gained)
}

// leave stops reconciling, waits for the in-flight reconciles within Grace, and deletes the
// Lease, so that the other members take over at once. When they do not finish in time the
// Lease is left to expire.
func (m *Membership) leave(ctx context.Context) {
	m.Gate.fence(false)
	deadline := time.NewTimer(m.Grace)
	defer deadline.Stop()
	for m.Gate.InFlight() > 0 {
		select {
		case <-m.Gate.drained:
		case <-deadline.C:
			m.Log.Info("in-flight reconciles did not finish: leaving the shard lease to expire", "inFlight", m.Gate.InFlight())
			return
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.RetryPeriod)
	defer cancel()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName(m.Me()), Namespace: m.Namespace}}
	if err := m.Client.Delete(dctx, lease); client.IgnoreNotFound(err) != nil {
		m.Log.Error(err, "cannot delete the shard lease; the others take over when it expires")
		return
	}
	m.Log.Info("left the shard group")
}

// NewIdentity returns a member identity: the host name and a random suffix, usable in a
// Lease name.
func NewIdentity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(host) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			sb.WriteRune(r)
		}
	}
	name := strings.Trim(sb.String(), "-")
	if len(name) > 200 {
		name = name[:200]
	}
	if name == "" {
		name = "weir"
	}
	return name + "-" + hex.EncodeToString(b), nil
}

func ptr[T any](v T) *T { return &v }
