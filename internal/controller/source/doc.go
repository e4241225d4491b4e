// Package source holds the reconcilers of the source.toolkit.fluxcd.io kinds. Each one turns
// its object's spec into fetch options, calls a Kubernetes-free fetcher from internal/source,
// stores the result in the artifact store (which tells the appliers at once), and reports
// Flux's conditions, events and status.artifact.
//
// Invariants: the last good artifact stays stored and advertised while fetches fail; no
// credential reaches a log line, an event or a condition; a stored artifact's revision is in
// Flux's format.
package source
