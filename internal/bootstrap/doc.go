// Package bootstrap stands a cluster up the GitOps way, as `flux bootstrap` does: it commits
// weir's install manifests and the sync manifests (a GitRepository and a Kustomization, both
// named after the namespace) under <path>/<namespace> of a branch, pushes them, installs weir,
// writes the sync Secret and waits until the cluster has applied the commit. The GitHub
// provider creates the repository and its deploy key first.
//
// Invariants: a second run with the same options changes nothing (no commit, no new deploy
// key, the Secret kept); the file names are Flux's (gotk-components.yaml, gotk-sync.yaml,
// kustomization.yaml), so a repository Flux bootstrapped is taken over in place; credentials
// never reach the output.
package bootstrap
