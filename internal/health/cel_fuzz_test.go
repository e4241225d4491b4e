package health

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// fuzzObject is the object every fuzzed expression is evaluated on: a custom resource with
// conditions, nested maps and a list, read from the API server (uid and resourceVersion set,
// so that the over-cost memo is used too).
func fuzzObject() *unstructured.Unstructured {
	items := make([]any, 64)
	for i := range items {
		items[i] = map[string]any{"name": strings.Repeat("x", i), "ready": i%2 == 0}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1",
		"kind":       "Widget",
		"metadata": map[string]any{
			"name": "w", "namespace": "default", "generation": int64(2),
			"uid": "0b1d", "resourceVersion": "7", "labels": map[string]any{"app": "w"},
		},
		"spec": map[string]any{"replicas": int64(3), "items": items},
		"status": map[string]any{
			"observedGeneration": int64(2),
			"phase":              "Ready",
			"conditions": []any{
				map[string]any{"type": "Ready", "status": "True", "reason": "Done", "message": "ok"},
				map[string]any{"type": "Stalled", "status": "False"},
			},
		},
	}}
}

// FuzzEvaluator checks healthCheckExprs over arbitrary expressions, which any Kustomization
// author writes: compiling never panics and either fails with an error or yields an Evaluator
// whose Status on a fixed object never panics, returns one of the kstatus values, and returns
// promptly whatever the expression does, because the cost limit stops it.
func FuzzEvaluator(f *testing.F) {
	f.Add("example.com/v1", "status.phase == 'Ready'", "", "")
	f.Add("example.com/v1", "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
		"status.conditions.exists(e, e.type == 'Stalled' && e.status == 'True')", "status.observedGeneration != metadata.generation")
	f.Add("example.com/v1", "spec.items.all(a, spec.items.all(b, spec.items.all(c, a.name + b.name + c.name != '')))", "", "")
	f.Add("example.com/v1", "self.status.?phase.orValue('') == 'Ready'", "'a'.split('')", "1/0 == 1")
	f.Add("example.com", "[1,2,3].map(x, [x, x]).flatten().size() > 2", "", "has(status.nope)")
	f.Add("not a/group/version", "true", "", "")
	obj := fuzzObject()
	f.Fuzz(func(t *testing.T, apiVersion, current, failed, inProgress string) {
		ev, err := NewEvaluator([]kustomize.CustomHealthCheck{{
			APIVersion: apiVersion, Kind: "Widget",
			HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: current, Failed: failed, InProgress: inProgress},
		}})
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		res, err := ev.Status(ctx, obj.DeepCopy())
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("Status took %v on %q / %q / %q", took, current, failed, inProgress)
		}
		switch res.Status {
		case Current, InProgress, Failed, Unknown:
		default:
			t.Fatalf("Status = %q, %v", res.Status, err)
		}
		if err == nil && res.Status == Unknown {
			t.Fatalf("Status = Unknown without an error")
		}
	})
}
