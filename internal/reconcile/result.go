package reconcile

import (
	"errors"
	"math/rand/v2"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// JitterPercent is the spread applied to intervals, as Flux's --interval-jitter-percentage.
const JitterPercent = 5

// Jitter spreads d by ±JitterPercent so that objects created together do not reconcile in
// lockstep.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := float64(d) * JitterPercent / 100
	return d + time.Duration((rand.Float64()*2-1)*spread)
}

// Result maps the outcome of a reconcile to what controller-runtime should do next: success
// requeues at the interval; a stalled error waits for a change; a waiting error requeues at
// its time; any other error requeues at retry, or with the workqueue's backoff when retry is 0.
func Result(err error, interval, retry time.Duration) (ctrl.Result, error) {
	switch {
	case err == nil:
		return ctrl.Result{RequeueAfter: Jitter(interval)}, nil
	case IsStalled(err):
		return ctrl.Result{}, nil
	}
	var we *WaitingError
	switch {
	case errors.As(err, &we):
		return ctrl.Result{RequeueAfter: we.RequeueAfter}, nil
	case retry > 0:
		return ctrl.Result{RequeueAfter: retry}, nil
	default:
		return ctrl.Result{}, err
	}
}
