package apply_test

import (
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/apply"
)

// TestApplyHidesSecretValues applies Secrets the API server rejects with messages that quote
// their values, and checks that the error names the Secret and the field but no value.
func TestApplyHidesSecretValues(t *testing.T) {
	ns := env.Namespace(t)
	tests := []struct {
		name, manifest, leak, want string
	}{
		{"number in data", "data:\n  password: 12345678\n", "12345678", ".data.password: expected string"},
		{"map in stringData", "stringData:\n  password:\n    nested: hunter2secret\n", "hunter2secret", ".stringData.password: expected string"},
		{"bad base64 in data", "data:\n  password: hunter2secret!!\n", "hunter2secret", "illegal base64 data"},
		{"missing tls keys", "type: kubernetes.io/tls\nstringData:\n  password: hunter2secret\n", "hunter2secret", "data[tls.crt]: FieldValueRequired"},
		{"invalid key next to a value", "data:\n  pass word: aHVudGVyMnNlY3JldA==\n", "aHVudGVyMnNlY3JldA==", "data[pass word]: FieldValueInvalid"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "s" + string(rune('a'+i))
			manifest := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: NS\n" + tt.manifest +
				"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: NS\ndata:\n  k: v\n"
			_, err := newManager(ns, "app").ApplyAllStaged(t.Context(), objects(t, ns, manifest), apply.ApplyOptions{})
			if err == nil {
				t.Fatal("apply succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, tt.leak) || strings.Contains(msg, "hunter2") {
				t.Errorf("error leaks the value: %s", msg)
			}
			if !strings.Contains(msg, "Secret/"+ns+"/"+name) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not name the Secret and %q", msg, tt.want)
			}
		})
	}
}
