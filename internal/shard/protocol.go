package shard

import "slices"

// Protocol is one member's side of the view protocol, without I/O. Fed with fresh reads of
// the group's Leases, it says which view the member publishes next and which keys it owns:
//
//   - the target is the live members as last observed;
//   - the member publishes the target once none of its in-flight reconciles is of a key the
//     target gives to someone else (Next);
//   - the view is converged when every live member publishes the member's own view, in a read
//     made after the member published it (Observe);
//   - the member owns a key when the last converged view, every view it published since, and
//     the target all give the key to it (Owns). A member that never saw a converged view, or
//     is fenced, owns nothing.
//
// Why this is enough: while a member reconciles a key, every view it publishes gives it the
// key, so another member cannot see it publish a view that gives the key away, hence cannot see
// a converged view that does, until that reconcile is over; and a member that published a view
// giving a key away does not take the key back before it sees a newer convergence, which the
// new owner's views then decide.
type Protocol struct {
	// Me is the member's identity.
	Me        string
	published View
	converged View
	since     []View
	target    View
	fenced    bool
}

// Observation is one read of the group's Leases, made after the member's last publication.
type Observation struct {
	// Live are the members whose Lease is unexpired, the member itself included when its own is.
	Live View
	// Views are the view IDs the members publish.
	Views map[string]string
}

// Observe records obs: the new target, and a convergence on the published view if every live
// member, this one included (its Lease confirms its last write), publishes it. A member that is not live in obs is fenced.
func (p *Protocol) Observe(obs Observation) {
	if !slices.Contains(obs.Live, p.Me) {
		p.Fence()
		return
	}
	p.target = obs.Live
	if len(p.published) == 0 {
		return
	}
	id := p.published.ID()
	for _, m := range obs.Live {
		if obs.Views[m] != id {
			return
		}
	}
	if p.converged.ID() != id || len(p.since) > 0 {
		p.converged, p.since = p.published, nil
	}
}

// Next returns the view to publish: the target when it differs from the published view and
// drained says that no in-flight reconcile is of a key the target gives to another member;
// the published view otherwise.
func (p *Protocol) Next(drained func(View) bool) View {
	if p.fenced || len(p.target) == 0 || p.target.ID() == p.published.ID() || !drained(p.target) {
		return p.published
	}
	return p.target
}

// Published records that the member's Lease says v. When a write may or may not have been
// applied, call MaybePublished instead.
func (p *Protocol) Published(v View) {
	if v.ID() == p.published.ID() {
		return
	}
	p.MaybePublished(v)
	p.published = v
}

// MaybePublished records that others may see v published (a write whose outcome is unknown):
// the member owns no key v gives to another member until the next convergence.
func (p *Protocol) MaybePublished(v View) {
	if len(p.converged) > 0 && v.ID() != p.converged.ID() {
		p.since = append(slices.Clip(p.since), v)
	}
}

// Fence makes the member own nothing from now on.
func (p *Protocol) Fence() { p.fenced = true }

// Fenced reports whether the member is fenced.
func (p *Protocol) Fenced() bool { return p.fenced }

// Converged reports whether the member owns what its target gives it: it saw every live member
// publish the target.
func (p *Protocol) Converged() bool {
	return !p.fenced && len(p.converged) > 0 && len(p.since) == 0 && p.converged.ID() == p.target.ID()
}

// Target returns the live members as last observed.
func (p *Protocol) Target() View { return p.target }

// Owns reports whether the member may reconcile the objects of key now.
func (p *Protocol) Owns(key string) bool {
	if p.fenced || len(p.converged) == 0 || p.converged.Owner(key) != p.Me || p.target.Owner(key) != p.Me {
		return false
	}
	for _, v := range p.since {
		if v.Owner(key) != p.Me {
			return false
		}
	}
	return true
}

// state is what ownership depends on, to tell when it changed.
func (p *Protocol) state() string {
	s := p.converged.ID() + "|" + p.target.ID()
	for _, v := range p.since {
		s += "|" + v.ID()
	}
	if p.fenced {
		s += "|fenced"
	}
	return s
}

// clone returns a copy that later changes to p do not affect.
func (p *Protocol) clone() *Protocol {
	c := *p
	c.since = slices.Clone(p.since)
	return &c
}
