// Package registryauth reads what an object needs to reach an OCI registry from its Secrets:
// Docker config Secrets (spec.secretRef and a service account's image pull Secrets) into a
// keychain, a TLS Secret (spec.certSecretRef) and a proxy Secret (spec.proxySecretRef), into
// oci.Options. OCIRepository, HelmRepository, HelmChart, Bucket and ImageRepository share it.
//
// Invariants: errors are reconcile.Failed with reason AuthenticationFailed and name the
// Secret and the key that is wrong, never a value.
package registryauth
