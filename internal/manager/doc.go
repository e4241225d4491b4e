// Package manager builds weir's single controller-runtime Manager: the scheme, the shared
// caches and field indexes, the flags (named as Flux names them), and the set of controllers
// that run in it. It owns process wiring only; each controller's logic lives in its own package.
//
// Invariants: one Manager per process; every controller is registered behind --controllers;
// the Manager stops taking work on the context's cancellation and lets in-flight reconciles
// finish within the graceful-shutdown timeout.
package manager
