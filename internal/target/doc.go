// Package target builds the Kubernetes clients that reconcilers apply with, from what an object
// says about where and as whom it applies: weir's own identity, an impersonated ServiceAccount,
// a remote cluster by kubeconfig Secret, or a remote cluster by workload identity.
//
// Invariants: an object that names a remote cluster never gets a client of the local one; a
// client is never cached past its credentials' version (Secret, ConfigMap) or half its token's
// life; errors say Stalled when retrying cannot help.
package target
