package reconcile

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// FuzzBackoff checks Backoff and Retry's requeue decision over any failure count and any
// configured delays (the --min-retry-delay, --max-retry-delay and --min-interval flags, and
// declared intervals): never a panic, a backoff within [minDelay, maxDelay] (the defaults for
// non-positive values) that grows with n and is computed in bounded time, and a requeue that
// is never negative and, for a failure, never sooner than the backoff's floor.
func FuzzBackoff(f *testing.F) {
	f.Add(1, int64(0), int64(0), int64(0), int64(0))
	f.Add(12, int64(750*time.Millisecond), int64(15*time.Minute), int64(time.Minute), int64(0))
	f.Add(1<<30, int64(time.Second), int64(0), int64(-1), int64(BackoffOnly))
	f.Add(3, int64(1<<62), int64(1<<63-1), int64(1<<63-1), int64(1<<63-1))
	f.Add(-5, int64(-1), int64(time.Nanosecond), int64(time.Hour), int64(-time.Hour))
	f.Fuzz(func(t *testing.T, n int, minDelay, maxDelay, interval, retry int64) {
		lo, hi := time.Duration(minDelay), time.Duration(maxDelay)
		wantLo, wantHi := lo, hi
		if wantLo <= 0 {
			wantLo = DefaultMinRetryDelay
		}
		if wantHi <= 0 {
			wantHi = DefaultMaxRetryDelay
		}
		d := Backoff(n, lo, hi)
		if d < min(wantLo, wantHi) || d > wantHi {
			t.Fatalf("Backoff(%d, %v, %v) = %v, want within [%v, %v]", n, lo, hi, d, min(wantLo, wantHi), wantHi)
		}
		if n < 1<<20 {
			if next := Backoff(n+1, lo, hi); next < d {
				t.Fatalf("Backoff(%d) = %v < Backoff(%d) = %v", n+1, next, n, d)
			}
		}

		r := &Retry{MinInterval: time.Duration(interval), MinDelay: lo, MaxDelay: hi}
		key := types.NamespacedName{Namespace: "ns", Name: "obj"}
		ok := r.result(key, nil, time.Duration(interval), time.Duration(retry))
		if ok.RequeueAfter < 0 {
			t.Fatalf("success requeues after %v", ok.RequeueAfter)
		}
		for i := range 3 {
			res := r.result(key, errors.New("boom"), time.Duration(interval), time.Duration(retry))
			if res.RequeueAfter < 0 {
				t.Fatalf("failure %d requeues after %v", i+1, res.RequeueAfter)
			}
			if floor := Backoff(i+1, lo, hi); res.RequeueAfter < floor*9/10 {
				t.Fatalf("failure %d requeues after %v, below its backoff %v", i+1, res.RequeueAfter, floor)
			}
		}
		w := r.result(key, Waiting("Waiting", time.Duration(retry), errors.New("later")), time.Duration(interval), 0)
		if w.RequeueAfter < 0 && time.Duration(retry) >= 0 {
			t.Fatalf("waiting error requeues after %v", w.RequeueAfter)
		}
	})
}
