// Package healthwatch lets a reconciler wait on the health of objects without holding a
// worker: it reads the objects through the manager's informer cache and, when one of them
// changes, tells the reconciler which of its objects to reconcile again.
//
// Invariants: a wait costs no API request after its informers have synced (an informer per
// kind, started on first use and kept for the process's life, shared with every other user of
// the cache); an object that cannot be watched (a kind the API server does not serve, or a
// namespace outside the cache) is read from the API server instead and reported as polled, so
// that the caller retries on a timer; Forget drops every registration of a waiter.
package healthwatch
