package depends

import (
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzEvalReadyExpr checks dependsOn[].readyExpr over arbitrary expressions, which any
// Kustomization or HelmRelease author writes: never a panic, an error or a bool, and a prompt
// return whatever the expression does, because the cost limit stops it.
func FuzzEvalReadyExpr(f *testing.F) {
	for _, s := range []string{
		`dep.status.lastAppliedRevision == "v1"`,
		`self.metadata.labels.tier == "web" && dep.metadata.name == "base"`,
		`dep.metadata.name`, `dep.(`, `dep.status.conditions.exists(c, c.type == "Ready")`,
		`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, a+b > 0))`,
		`has(dep.spec.nope) || size(self.metadata.name) > 1`, `1 / 0 == 1`,
	} {
		f.Add(s)
	}
	self := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "apps", Labels: map[string]string{"tier": "web"}}}
	dep := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "base", Namespace: "apps", Generation: 3},
		Status: kustomizev1.KustomizationStatus{
			LastAppliedRevision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
			Conditions:          []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}},
		},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		start := time.Now()
		_, _ = EvalReadyExpr(expr, self, dep)
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("EvalReadyExpr(%q) took %v", expr, took)
		}
	})
}
