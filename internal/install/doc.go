// Package install renders weir's install manifests (CRDs, namespace, service account, RBAC,
// Deployment, Services, NetworkPolicies), applies them with server-side apply, and removes
// them again without deleting what users' Kustomizations and HelmReleases manage.
//
// Invariants: rendering is a pure function of Options; uninstall removes weir's finalizers
// from every Flux object before deleting it, so no managed workload is garbage-collected.
package install
