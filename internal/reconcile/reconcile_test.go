package reconcile

import (
	"errors"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/compat"
)

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
