// Package reconcile is the skeleton every weir reconciler shares: errors that carry the retry
// decision (stalled, waiting, transient), condition bookkeeping in Flux's kstatus-compatible
// shape, a patcher that writes metadata and status as the difference from what was read, and
// the mapping of an outcome to a controller-runtime Result.
//
// Invariants: a reconciler never returns a non-zero Result together with an error, and a
// failure is retried by Retry (backoff per object, never a hot loop), not by returning it; a stalled
// error is not retried until the object changes; Reconciling is present only while True.
package reconcile
