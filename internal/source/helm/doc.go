// Package helm fetches Helm repository indexes and charts the way Flux's source-controller
// does, with the Helm SDK: index.yaml over HTTP(S) with basic auth and TLS, parsed once per
// index revision into a bounded shared cache; charts downloaded by URL (credentials only to the
// repository's host unless passed on), from OCI registries, or loaded from a directory, with
// values files merged and packaged again; a directory chart's missing dependencies resolved
// from file:// paths confined to its source, http(s) repositories and OCI registries, the
// caller saying how each repository is reached. It knows nothing of Kubernetes.
package helm
