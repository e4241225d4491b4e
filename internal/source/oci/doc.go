// Package oci fetches and publishes OCI artifacts the way Flux does, with go-containerregistry:
// resolving an OCIRepository's ref (digest, semver, tag) to a manifest digest, pulling the
// selected layer within size limits, and pushing directories as Flux artifacts (Flux's config
// and content media types, org.opencontainers.image.* annotations) for the CLI. It knows
// nothing of Kubernetes: credentials, CA certificates and proxies come in as Options.
package oci
