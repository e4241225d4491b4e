package reconcile

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, 750 * time.Millisecond},
		{2, 1500 * time.Millisecond},
		{5, 12 * time.Second},
		{11, 768 * time.Second},
		{12, 15 * time.Minute},
		{1000, 15 * time.Minute},
	}
	for _, tt := range tests {
		if got := Backoff(tt.n, 0, 0); got != tt.want {
			t.Errorf("Backoff(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestRetryResult(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "app"}
	within := func(t *testing.T, got, want time.Duration) {
		t.Helper()
		if spread := want * JitterPercent / 100; got < want-spread || got > want+spread {
			t.Errorf("RequeueAfter = %s, want %s ±%d%%", got, want, JitterPercent)
		}
	}
	t.Run("tiny interval is raised", func(t *testing.T) {
		r := &Retry{}
		within(t, r.Result(t.Context(), key, nil, time.Second, 0).RequeueAfter, DefaultMinInterval)
		within(t, r.Result(t.Context(), key, nil, time.Hour, 0).RequeueAfter, time.Hour)
	})
	t.Run("failures back off beyond the retry interval up to the cap", func(t *testing.T) {
		r := &Retry{MinInterval: time.Second}
		fail := errors.New("boom")
		var last time.Duration
		for i := 0; i < 20; i++ {
			last = r.Result(t.Context(), key, fail, time.Second, time.Second).RequeueAfter
		}
		within(t, last, DefaultMaxRetryDelay)
		if r.Failures(key) != 20 {
			t.Errorf("failures = %d", r.Failures(key))
		}
		within(t, r.Result(t.Context(), key, nil, time.Minute, 0).RequeueAfter, time.Minute)
		if r.Failures(key) != 0 {
			t.Error("success did not reset the failures")
		}
		within(t, r.Result(t.Context(), key, fail, time.Minute, 0).RequeueAfter, time.Minute)
	})
	t.Run("stalled waits for a change", func(t *testing.T) {
		r := &Retry{}
		if got := r.Result(t.Context(), key, Stalled("R", errors.New("x")), time.Second, 0); got.RequeueAfter != 0 {
			t.Errorf("stalled requeues after %s", got.RequeueAfter)
		}
	})
	t.Run("in progress is no failure", func(t *testing.T) {
		r := &Retry{}
		for i := 0; i < 5; i++ {
			if got := r.Result(t.Context(), key, InProgress(42*time.Second, "waiting"), time.Minute, 0).RequeueAfter; got != 42*time.Second {
				t.Fatalf("in progress requeues after %s", got)
			}
		}
		if r.Failures(key) != 0 {
			t.Errorf("failures = %d", r.Failures(key))
		}
	})
	t.Run("waiting backs off too", func(t *testing.T) {
		r := &Retry{}
		w := Waiting("R", 30*time.Second, errors.New("x"))
		if got := r.Result(t.Context(), key, w, time.Minute, 0).RequeueAfter; got != 30*time.Second {
			t.Errorf("first wait requeues after %s", got)
		}
		for i := 0; i < 10; i++ {
			r.Result(t.Context(), key, w, time.Minute, 0)
		}
		if got := r.Result(t.Context(), key, w, time.Minute, 0).RequeueAfter; got != DefaultMaxRetryDelay {
			t.Errorf("long wait requeues after %s", got)
		}
	})
}
