// Package artifact stores source artifacts (gzip tar archives of a fetched
// tree) on disk, serves them over HTTP and tells in-process subscribers when
// a new one is stored.
//
// Layout: <root>/<kind lowercase>/<namespace>/<name>/<file>, for example
// gitrepository/flux-system/podinfo/<commit>.tar.gz; the advertised URL is
// http://<advertised address>/<that path>, as in Flux.
//
// Invariants:
//   - Archives never follow symlinks. A relative symlink whose target
//     resolves inside the tree is stored as a symlink entry; absolute
//     symlinks and symlinks resolving outside the tree (or dangling) are left
//     out of the archive, silently, as Flux leaves out every symlink.
//   - Archives are deterministic: sorted entries, zeroed times and owners, so
//     the same tree and filter give the same sha256 digest.
//   - Files are written to a temporary file and renamed into place, under a
//     per-object lock; readers never see a partial artifact.
//   - Extraction verifies the digest, rejects absolute paths, ".." and
//     entries below a symlink, confines symlink targets to the destination,
//     and bounds total size and entry count; it never panics on bad input.
//   - The HTTP server only serves regular files under the root, confined with
//     os.Root so symlinks cannot escape; directories and hidden files are 404.
//   - Subscribers are notified without blocking the writer; per subscriber
//     only the latest event of each object is kept while it is busy.
package artifact
