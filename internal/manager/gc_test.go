package manager

import (
	"maps"
	"runtime/debug"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name, gogc, want string
		wantPercent      int
	}{
		{name: "flag", want: "50", wantPercent: 50},
		{name: "GOGC wins", gogc: "80", want: "80", wantPercent: 100},
		{name: "GOGC off wins", gogc: "off", want: "off", wantPercent: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			got := setGCPercent(50, func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			})
			if got != tc.want {
				t.Errorf("setGCPercent = %q, want %q", got, tc.want)
			}
			if p := debug.SetGCPercent(100); p != tc.wantPercent {
				t.Errorf("GC percent in force = %d, want %d", p, tc.wantPercent)
			}
		})
	}
}

// TestTrimCached: cached objects lose managedFields and kubectl's last-applied record, and
// keep every other annotation.
func TestTrimCached(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:          "app",
		Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: `{"big":"copy"}`, "team": "a"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	out, err := trimCached(cm)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMap)
	if len(got.ManagedFields) != 0 {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if want := map[string]string{"team": "a"}; !maps.Equal(got.Annotations, want) {
		t.Errorf("annotations = %v, want %v", got.Annotations, want)
	}
}
