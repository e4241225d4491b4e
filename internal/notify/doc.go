// Package notify holds what weir's notification controller sends and accepts, without
// Kubernetes: one Notifier per Provider type, formatting an event as that service expects it
// (the payloads Flux's notification-controller sends) and delivering it over HTTP (or the
// service's protocol); and the validation of webhook requests for each Receiver type.
//
// Invariants: a Notifier never logs, and its errors carry no credential (addresses are
// redacted, tokens never appear); every request has a deadline and every response body read
// is size-limited; a Notifier is safe for concurrent use; validation compares secrets in
// constant time and reads at most the body it is given.
package notify
