// Package git fetches Git repositories for the GitRepository source: it
// resolves a Flux reference (branch, tag, semver range, ref name or commit)
// to a commit, checks a tree out (with its submodules when asked), verifies
// OpenPGP and SSH signatures, obtains GitHub App installation tokens and
// filters the checked-out files the way Flux does (default exclusions,
// spec.ignore, .sourceignore files). It knows nothing about Kubernetes:
// callers pass plain options and get plain values. FetchTree keeps the
// fetched repository in memory and writes only the working tree; Clone keeps
// it on disk, for callers that commit and push.
//
// Invariants:
//   - URLs are http://, https:// or ssh://; scp-like "user@host:path" and
//     every other scheme fail with ErrInvalidURL before any I/O.
//   - SSH always verifies the server's host key against the given
//     known_hosts; there is no way to skip it.
//   - Errors never contain credentials: URLs are redacted and known secret
//     values are scrubbed from messages. The sentinel errors (ErrInvalidURL,
//     ErrAuthentication, ErrReferenceNotFound, ErrVerification) classify a
//     failure with errors.Is; anything else is a Git operation failure.
//   - Every network operation runs under the caller's context; a deadline on
//     it is the operation timeout. GitHub API calls are also bounded on their
//     own, and every API response body is size-limited.
//   - Submodules are fetched with the parent's CA bundle, client certificate
//     and proxy; the parent's credentials go only to submodules on the
//     parent's host, and submodule URLs obey the same scheme rule as the
//     parent's.
//   - Revision strings are Flux's: "<branch>@sha1:<hex>", "<tag>@sha1:<hex>",
//     "<full ref name>@sha1:<hex>" or "sha1:<hex>" for a bare commit.
package git
