// Package kustomize reconciles kustomize.toolkit.fluxcd.io/v1 Kustomizations: it reads the
// source artifact from the in-process artifact store, builds it (internal/build), applies it
// with server-side apply in stages and prunes what left the inventory (internal/apply), waits
// for health (internal/health), and reports Flux's conditions, inventory and events.
//
// Invariants: a failed build prunes nothing of the last good apply; dependents are triggered
// the moment a dependency turns Ready or a source stores a new artifact, with
// --requeue-dependency only as a fallback; a new revision arriving during a health wait cancels
// the wait and reconciles the new revision at once.
package kustomize
