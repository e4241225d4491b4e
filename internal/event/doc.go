// Package event records what reconcilers report to users: Kubernetes Events (with Flux's
// reporting controller names) and, in the same call, Flux-shaped events (Flux's event API:
// involved object, severity, reason, message, metadata prefixed with the object's API group) on
// an in-process bus that the notification controller consumes and that a Forwarder posts to an
// external Flux notification-controller (--events-addr).
//
// Invariants: messages are bounded and carry no URL userinfo; every subscriber gets its own
// copy of an event, with no pointer to the live object; publishing never blocks a reconciler
// (a subscriber that falls behind loses events beyond its buffer).
package event
