package reconcile

import (
	"errors"
	"time"
)

// StalledError means retrying cannot help until the object (or something it references)
// changes: the reconciler reports Stalled=True and does not requeue.
type StalledError struct {
	Reason string
	Err    error
}

func (e *StalledError) Error() string { return e.Err.Error() }
func (e *StalledError) Unwrap() error { return e.Err }

// WaitingError means the object waits on something outside it (a dependency, a source
// artifact): the reconciler retries after RequeueAfter, or earlier on an event.
type WaitingError struct {
	Reason       string
	RequeueAfter time.Duration
	Err          error
}

func (e *WaitingError) Error() string { return e.Err.Error() }
func (e *WaitingError) Unwrap() error { return e.Err }

// ReasonError is a transient failure with the condition reason to report; it is retried with
// backoff or the object's retry interval.
type ReasonError struct {
	Reason string
	Err    error
}

func (e *ReasonError) Error() string { return e.Err.Error() }
func (e *ReasonError) Unwrap() error { return e.Err }

// InProgressError means the work is started and goes on without the reconciler: the object
// waits for something to converge (a health check) that events will announce. It is not a
// failure: the object reports Reconciling=True / Ready=Unknown with Message and is looked at
// again on an event, or after RequeueAfter at the latest.
type InProgressError struct {
	Message      string
	RequeueAfter time.Duration
}

func (e *InProgressError) Error() string { return e.Message }

// InProgress returns an InProgressError.
func InProgress(after time.Duration, message string) error {
	return &InProgressError{Message: message, RequeueAfter: after}
}

// IsInProgress reports whether err is an InProgressError.
func IsInProgress(err error) bool {
	var p *InProgressError
	return errors.As(err, &p)
}

// Stalled returns a StalledError.
func Stalled(reason string, err error) error { return &StalledError{Reason: reason, Err: err} }

// Waiting returns a WaitingError.
func Waiting(reason string, after time.Duration, err error) error {
	return &WaitingError{Reason: reason, RequeueAfter: after, Err: err}
}

// Failed returns a transient error reported with reason.
func Failed(reason string, err error) error { return &ReasonError{Reason: reason, Err: err} }

// Reason returns the condition reason an error carries, or fallback when it carries none.
func Reason(err error, fallback string) string {
	var s *StalledError
	if errors.As(err, &s) && s.Reason != "" {
		return s.Reason
	}
	var w *WaitingError
	if errors.As(err, &w) && w.Reason != "" {
		return w.Reason
	}
	var r *ReasonError
	if errors.As(err, &r) && r.Reason != "" {
		return r.Reason
	}
	return fallback
}

// IsStalled reports whether err is a StalledError.
func IsStalled(err error) bool {
	var s *StalledError
	return errors.As(err, &s)
}

// IsWaiting reports whether err is a WaitingError.
func IsWaiting(err error) bool {
	var w *WaitingError
	return errors.As(err, &w)
}
