// Package ui is weir's web UI: a JSON API over the same informer caches the controllers read,
// a server-sent event stream fed by those informers, and a single-page application embedded in
// the binary (assets/, no toolchain, nothing loaded from the internet). It is served by
// `weir controller --ui-addr` and by `weir ui` on a workstation.
//
// Invariants:
//   - Reads come from the informer caches (or, for events and managed objects, bounded
//     direct reads); a browser costs one stream, never a polling loop.
//   - Actions (reconcile, suspend, resume) are allowed only when a SubjectAccessReview says the
//     signed-in user may patch the object, and are performed impersonating that user; without a
//     signed-in user the UI is read-only.
//   - No Secret value leaves the server: YAML and diffs mask Secret data, and the UI never
//     reads Secrets' contents.
//   - Every state-changing request carries the session's CSRF token; responses carry security
//     headers (CSP without external sources, no framing, no sniffing).
package ui
