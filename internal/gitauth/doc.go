// Package gitauth reads the Git credentials of a GitRepository from its Secrets: basic auth,
// bearer token, SSH identity and known_hosts, CA and client certificate (spec.secretRef), the
// proxy (spec.proxySecretRef), and GitHub App installation tokens (provider github), cached
// per object and version of its Secrets. The GitRepository source and the
// ImageUpdateAutomation, which pushes to it, share it.
//
// Invariants: errors carry Flux's reasons (AuthenticationFailed, InvalidProviderConfiguration)
// and name the Secret and key, never a value; a token is reused until a minute before it
// expires, and a change of either Secret starts a new token source.
package gitauth
