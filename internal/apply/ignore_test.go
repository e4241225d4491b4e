package apply

import (
	"reflect"
	"testing"

	"github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func ignoreObj(kind, name string, labels map[string]string, data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": "apps"}}}
	if data != nil {
		u.Object["data"] = data
	}
	u.SetLabels(labels)
	return u
}

func TestIgnoredPaths(t *testing.T) {
	rules := []IgnoreRule{
		{Paths: []string{"/data/a"}},
		{Paths: []string{"/data/b"}, Target: &kustomize.Selector{Kind: "ConfigMap", Name: "web-.*"}},
		{Paths: []string{"/data/c"}, Target: &kustomize.Selector{Kind: "Secret"}},
		{Paths: []string{"/data/d"}, Target: &kustomize.Selector{LabelSelector: "tier=front"}},
	}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want []string
	}{
		{"untargeted rule only", ignoreObj("ConfigMap", "db", nil, nil), []string{"/data/a"}},
		{"name regex, anchored", ignoreObj("ConfigMap", "web-1", nil, nil), []string{"/data/a", "/data/b"}},
		{"anchored: no partial match", ignoreObj("ConfigMap", "my-web-1", nil, nil), []string{"/data/a"}},
		{"kind", ignoreObj("Secret", "web-1", nil, nil), []string{"/data/a", "/data/c"}},
		{"label selector", ignoreObj("ConfigMap", "x", map[string]string{"tier": "front"}, nil), []string{"/data/a", "/data/d"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := IgnoredPaths(rules, c.obj)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("ignoredPaths = %v, %v; want %v", got, err, c.want)
			}
		})
	}
	if _, err := IgnoredPaths([]IgnoreRule{{Paths: []string{"/x"}, Target: &kustomize.Selector{LabelSelector: "a in (("}}}, ignoreObj("ConfigMap", "x", nil, nil)); err == nil {
		t.Error("a bad label selector gave no error")
	}
}

func TestAdoptIgnored(t *testing.T) {
	cases := []struct {
		name          string
		desired, live map[string]any
		paths         []string
		want          map[string]any
		wantErr       bool
	}{
		{"live value copied", map[string]any{"a": "mine", "b": "x"}, map[string]any{"a": "theirs", "b": "y"}, []string{"/data/a"},
			map[string]any{"a": "theirs", "b": "x"}, false},
		{"absent in live: removed", map[string]any{"a": "mine", "b": "x"}, map[string]any{"b": "y"}, []string{"/data/a"},
			map[string]any{"b": "x"}, false},
		{"escaped tokens", map[string]any{"a/b": "1", "c~d": "2"}, map[string]any{"a/b": "L1", "c~d": "L2"}, []string{"/data/a~1b", "/data/c~0d"},
			map[string]any{"a/b": "L1", "c~d": "L2"}, false},
		{"list element", map[string]any{"l": []any{"a", "b"}}, map[string]any{"l": []any{"a", "B"}}, []string{"/data/l/1"},
			map[string]any{"l": []any{"a", "B"}}, false},
		{"nested map created", map[string]any{}, map[string]any{"m": map[string]any{"k": "v"}}, []string{"/data/m/k"},
			map[string]any{"m": map[string]any{"k": "v"}}, false},
		{"not a pointer", map[string]any{"a": "1"}, map[string]any{}, []string{"data/a"}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, l := ignoreObj("ConfigMap", "x", nil, c.desired), ignoreObj("ConfigMap", "x", nil, c.live)
			err := AdoptIgnored(d, l, c.paths)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !c.wantErr && !reflect.DeepEqual(d.Object["data"], c.want) {
				t.Errorf("data = %v, want %v", d.Object["data"], c.want)
			}
		})
	}
}
