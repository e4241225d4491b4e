// Package cloudauth is object-level workload identity: a Kubernetes
// ServiceAccount's tokens, issued through the TokenRequest API, exchanged for
// cloud credentials (AWS STS web identity, Azure federated client assertion,
// GCP workload identity federation) or a Vault token, as Flux's object-level
// workload identity does with the same ServiceAccount annotations.
//
// Invariants: tokens are short-lived and audience-bound; no token or
// credential appears in an error message.
package cloudauth
