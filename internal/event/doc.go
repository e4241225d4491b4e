// Package event records what reconcilers report to users: Kubernetes Events (with Flux's
// reporting controller names and metadata annotations, so `flux events` and `weir events` read
// them) and, in the same call, an in-process bus that the notification controller consumes.
//
// Invariants: messages are bounded and carry no URL userinfo; metadata keys are prefixed with the object's API group as
// Flux does; publishing never blocks a reconciler.
package event
