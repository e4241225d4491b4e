package depends

import (
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEvalReadyExpr(t *testing.T) {
	self := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"tier": "web"}}}
	dep := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "base"}, Status: kustomizev1.KustomizationStatus{LastAppliedRevision: "v1"}}
	tests := []struct {
		name, expr string
		want       bool
		wantErr    string
	}{
		{name: "dependency field", expr: `dep.status.lastAppliedRevision == "v1"`, want: true},
		{name: "self and dep", expr: `self.metadata.labels.tier == "web" && dep.metadata.name == "base"`, want: true},
		{name: "false", expr: `dep.status.lastAppliedRevision == "v2"`},
		{name: "not a bool", expr: `dep.metadata.name`, wantErr: "does not evaluate to a bool"},
		{name: "does not compile", expr: `dep.(`, wantErr: "Syntax error"},
		{name: "too costly", expr: `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))`, wantErr: "cost limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EvalReadyExpr(tt.expr, self, dep)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
