// Package shard decides which replica of an automatically sharded weir owns which Flux object.
//
// Replicas announce themselves with one coordination.k8s.io Lease each (labelled with their
// group); the live members are the Leases renewed within their duration. An object's owner is
// the member with the highest rendezvous hash of the object's shard key, and a consumer's key is
// its source's, so that a source and the objects that read its artifact land on one replica.
//
// Invariants:
//   - no object is reconciled by two replicas at once, also while the members change: a replica
//     reconciles an object only when every live member publishes the view it acts on (observed
//     after its own publication), and it publishes a new view only once the reconciles of the
//     objects it loses under that view have finished; between two converged views it owns only
//     what every view it published since the last convergence gives it;
//   - a replica that cannot renew its Lease within the renew deadline owns nothing, cancels its
//     in-flight reconciles and stops, before its Lease expires for the others;
//   - the key of an object is a pure function of the object, so that every replica computes the
//     same key from the same object.
package shard
