package reconcile

import (
	"errors"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/compat"
)

func TestResult(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name        string
		err         error
		retry       time.Duration
		wantAfter   time.Duration
		wantErr     bool
		wantJitterd bool
	}{
		{name: "success requeues at interval", err: nil, wantAfter: time.Minute, wantJitterd: true},
		{name: "stalled waits for a change", err: Stalled("InvalidPath", boom)},
		{name: "waiting requeues at its time", err: fmt.Errorf("wrap: %w", Waiting("DependencyNotReady", 7*time.Second, boom)), wantAfter: 7 * time.Second},
		{name: "transient with retry interval", err: Failed("BuildFailed", boom), retry: 30 * time.Second, wantAfter: 30 * time.Second},
		{name: "transient without retry backs off", err: boom, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Result(tc.err, time.Minute, tc.retry)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && res.RequeueAfter != 0 {
				t.Fatalf("non-zero result %v together with an error", res)
			}
			if tc.wantJitterd {
				if d := res.RequeueAfter - tc.wantAfter; d < -3*time.Second || d > 3*time.Second {
					t.Fatalf("RequeueAfter = %v, want %v ±5%%", res.RequeueAfter, tc.wantAfter)
				}
				return
			}
			if res.RequeueAfter != tc.wantAfter {
				t.Fatalf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantAfter)
			}
		})
	}
}

func TestReason(t *testing.T) {
	if got := Reason(fmt.Errorf("x: %w", Stalled("InvalidPath", errors.New("e"))), "Fallback"); got != "InvalidPath" {
		t.Errorf("stalled reason = %q", got)
	}
	if got := Reason(errors.New("e"), "Fallback"); got != "Fallback" {
		t.Errorf("fallback = %q", got)
	}
}

func TestConditionsLifecycle(t *testing.T) {
	var list []metav1.Condition
	c := Conditions{List: &list, Generation: 3}
	c.Progressing(compat.ProgressingReason, "reconciliation in progress")
	if IsReady(list) || c.Get(compat.ReconcilingCondition) == nil {
		t.Fatalf("progressing: %+v", list)
	}
	c.NotReady(compat.BuildFailedReason, "kustomize build failed", true)
	if c.Get(compat.StalledCondition) == nil || c.Get(compat.ReconcilingCondition) != nil {
		t.Fatalf("stalled failure: %+v", list)
	}
	c.NotReady(compat.ArtifactFailedReason, "source not ready", false)
	if c.Get(compat.StalledCondition) != nil || c.Get(compat.ReconcilingCondition).Reason != compat.ProgressingWithRetryReason {
		t.Fatalf("retrying failure: %+v", list)
	}
	c.Ready(compat.ReconciliationSucceededReason, "Applied revision: main@sha1:abc")
	if !IsReady(list) || c.Get(compat.ReconcilingCondition) != nil || c.Get(compat.StalledCondition) != nil {
		t.Fatalf("ready: %+v", list)
	}
	if got := c.Get(compat.ReadyCondition).ObservedGeneration; got != 3 {
		t.Fatalf("observedGeneration = %d", got)
	}
}
