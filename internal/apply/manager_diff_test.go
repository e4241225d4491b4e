package apply_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	base := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: same
  namespace: NS
data:
  k: v
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: drift
  namespace: NS
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: NS
stringData:
  password: first-secret-value
`
	if _, err := m.ApplyAllStaged(t.Context(), objects(t, ns, base), apply.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := live(t, "v1", "ConfigMap", ns, "drift")
	patch := []byte(`{"data":{"color":"red"}}`)
	if err := env.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	rv := cm.GetResourceVersion()

	desired := strings.ReplaceAll(base, "first-secret-value", "second-secret-value") + `
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: new
  namespace: NS
data:
  k: v
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
  namespace: NS
  annotations:
    kustomize.toolkit.fluxcd.io/ssa: Ignore
`
	entries, err := m.Diff(t.Context(), objects(t, ns, desired), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]apply.DiffEntry{}
	for _, e := range entries {
		got[e.Subject] = e
	}
	want := map[string]apply.Action{
		"ConfigMap/" + ns + "/same":    apply.Unchanged,
		"ConfigMap/" + ns + "/drift":   apply.Configured,
		"ConfigMap/" + ns + "/new":     apply.Created,
		"ConfigMap/" + ns + "/ignored": apply.Skipped,
		"Secret/" + ns + "/token":      apply.Configured,
	}
	for s, a := range want {
		if got[s].Action != a {
			t.Errorf("%s: %q, want %q", s, got[s].Action, a)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("%d entries, want %d", len(entries), len(want))
	}
	if d := got["ConfigMap/"+ns+"/drift"].Diff; !strings.Contains(d, "-  color: red") || !strings.Contains(d, "+  color: blue") {
		t.Errorf("drift diff:\n%s", d)
	}
	if d := got["ConfigMap/"+ns+"/same"].Diff; d != "" {
		t.Errorf("unchanged object has a diff:\n%s", d)
	}
	if d := got["ConfigMap/"+ns+"/new"].Diff; !strings.Contains(d, "+  name: new") {
		t.Errorf("created diff:\n%s", d)
	}
	secret := got["Secret/"+ns+"/token"].Diff
	if !strings.Contains(secret, "-  password: '*** (before)'") || !strings.Contains(secret, "+  password: '*** (after)'") {
		t.Errorf("secret diff:\n%s", secret)
	}
	for _, leak := range []string{"secret-value", "Zmlyc3Qtc2VjcmV0LXZhbHVl", "c2Vjb25kLXNlY3JldC12YWx1ZQ=="} {
		if strings.Contains(secret, leak) {
			t.Errorf("secret diff leaks %q:\n%s", leak, secret)
		}
	}

	// A diff writes nothing.
	if exists(t, "v1", "ConfigMap", ns, "new") {
		t.Error("Diff created an object")
	}
	if got := live(t, "v1", "ConfigMap", ns, "drift").GetResourceVersion(); got != rv {
		t.Error("Diff wrote to a drifted object")
	}
}
