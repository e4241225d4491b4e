// Package depends decides whether an object's dependsOn are ready: Flux's built-in readiness
// (the dependency observed its generation and is Ready), a readyExpr in CEL under a cost
// limit, a rule of the caller's for dependencies that passed, and cycle detection. It serves
// every kind with dependsOn (Kustomization, HelmRelease), and gives the field-index keys with
// which a dependency turning Ready triggers its dependents at once.
//
// Invariants: a dependency is read with the caller's reader; a cycle is reported, never waited
// on; a readyExpr that does not compile or exceeds its cost is a stalled error.
package depends
