package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weirgitops/weir/internal/redact"
)

// Flux's defaults for the failure backoff (--min-retry-delay, --max-retry-delay) and weir's
// floor under declared intervals (--min-interval).
const (
	DefaultMinRetryDelay = 750 * time.Millisecond
	DefaultMaxRetryDelay = 15 * time.Minute
	DefaultMinInterval   = 10 * time.Second
)

// Retry decides when an object is reconciled next and remembers, per object, how many
// reconciles in a row have failed, so that an object that keeps failing is retried less and
// less often: never sooner than its retry interval, and after consecutive failures no sooner
// than MinDelay doubled per failure, up to MaxDelay. Intervals and retry intervals below
// MinInterval are raised to it. Events (a new revision, a dependency turning Ready, a
// reconcile request) still reconcile at once: the backoff only spaces timer-driven retries.
//
// A Retry is safe for concurrent use; the zero value uses the defaults.
type Retry struct {
	MinInterval time.Duration
	MinDelay    time.Duration
	MaxDelay    time.Duration

	mu       sync.Mutex
	failures map[types.NamespacedName]int
}

func (r *Retry) minDelay() time.Duration {
	if r.MinDelay > 0 {
		return r.MinDelay
	}
	return DefaultMinRetryDelay
}

func (r *Retry) minInterval() time.Duration {
	if r.MinInterval > 0 {
		return r.MinInterval
	}
	return DefaultMinInterval
}

// Interval returns the declared interval raised to the floor, and whether it was raised.
func (r *Retry) Interval(declared time.Duration) (time.Duration, bool) {
	if floor := r.minInterval(); declared < floor {
		return floor, true
	}
	return declared, false
}

// IntervalRaised returns the message telling that the declared interval is below the floor
// and what is used instead, or "" when it is not.
func (r *Retry) IntervalRaised(field string, declared time.Duration) string {
	d, raised := r.Interval(declared)
	if !raised {
		return ""
	}
	return fmt.Sprintf("%s %s is below the controller's minimum (--min-interval): using %s", field, declared, d)
}

// Result maps the outcome of a reconcile of the object key to what controller-runtime should
// do next, and records it: success requeues at the (raised, jittered) interval and forgets
// the failures; a stalled error waits for a change; a waiting error requeues at its time or
// the backoff, whichever is later; any other error requeues at the retry interval (the
// interval when zero) or the backoff, whichever is later. The error is never returned to
// controller-runtime: the reconciler reports it, and Result logs it and decides its retry.
func (r *Retry) Result(ctx context.Context, key types.NamespacedName, err error, interval, retry time.Duration) ctrl.Result {
	res := r.result(key, err, interval, retry)
	if err != nil && !IsInProgress(err) {
		// The one log line of a failure, where its retry is decided.
		ctrl.LoggerFrom(ctx).Info("reconciliation failed", "error", redact.Text(err.Error()),
			"failures", r.Failures(key), "retryIn", res.RequeueAfter.Round(time.Millisecond).String())
	}
	return res
}

func (r *Retry) result(key types.NamespacedName, err error, interval, retry time.Duration) ctrl.Result {
	if err == nil {
		r.Forget(key)
		d, _ := r.Interval(interval)
		return ctrl.Result{RequeueAfter: Jitter(d)}
	}
	if IsStalled(err) {
		r.Forget(key)
		return ctrl.Result{}
	}
	var p *InProgressError
	if errors.As(err, &p) {
		return ctrl.Result{RequeueAfter: p.RequeueAfter}
	}
	var we *WaitingError
	if errors.As(err, &we) && we.RequeueAfter < r.minDelay() {
		// "Again at once" (a health check canceled by a new revision) is not a failure.
		return ctrl.Result{RequeueAfter: we.RequeueAfter}
	}
	backoff := r.failure(key)
	if we != nil {
		return ctrl.Result{RequeueAfter: max(we.RequeueAfter, backoff)}
	}
	if retry == BackoffOnly {
		return ctrl.Result{RequeueAfter: backoff}
	}
	if retry <= 0 {
		retry = interval
	}
	retry, _ = r.Interval(retry)
	return ctrl.Result{RequeueAfter: Jitter(max(retry, backoff))}
}

// BackoffOnly, as a retry interval, retries a failure after the per-object backoff alone
// (--min-retry-delay doubling to --max-retry-delay), as Flux's sources and HelmReleases do.
const BackoffOnly time.Duration = 1

// Failures returns the number of consecutive failed reconciles of key.
func (r *Retry) Failures(key types.NamespacedName) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[key]
}

// Forget drops what is known of key; call it when the object is deleted.
func (r *Retry) Forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.failures, key)
}

// failure records a failed reconcile of key and returns the backoff it earns.
func (r *Retry) failure(key types.NamespacedName) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == nil {
		r.failures = map[types.NamespacedName]int{}
	}
	r.failures[key]++
	return Backoff(r.failures[key], r.MinDelay, r.MaxDelay)
}

// Backoff returns the delay after n consecutive failures: minDelay doubled n-1 times, capped
// at maxDelay (the defaults when zero).
func Backoff(n int, minDelay, maxDelay time.Duration) time.Duration {
	if minDelay <= 0 {
		minDelay = DefaultMinRetryDelay
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxRetryDelay
	}
	d := minDelay
	for i := 1; i < n && d < maxDelay; i++ {
		if d > maxDelay/2 {
			// Doubling would pass maxDelay, or overflow near the largest durations.
			return maxDelay
		}
		d *= 2
	}
	return min(d, maxDelay)
}
