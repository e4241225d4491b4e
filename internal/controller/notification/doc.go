// Package notification is weir's notification controller: the Dispatcher that matches every
// event (from weir's own controllers on the in-process bus, and from other emitters through
// the events endpoint) against the Alerts and delivers it to their Providers, and the Receiver
// reconciler with its webhook server, which turns a signed push into reconcile requests.
//
// Invariants: dispatching never blocks a reconciler (a bounded queue; a full queue drops and
// counts); a delivery is retried with backoff and its final failure is a Warning event on the
// Alert naming the provider and the HTTP status; no credential reaches a log line, an event or
// a status; webhook bodies are size-limited and signatures compared in constant time; an
// invalid webhook changes nothing.
package notification
