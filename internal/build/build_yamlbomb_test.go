package build

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/getsops/sops/v3/keys"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/safeyaml"
	"github.com/weirgitops/weir/internal/testenv/sopsfile"
)

// laughs is a billion-laughs alias bomb in a ConfigMap: nine levels of nine
// aliases, 9^9 strings once expanded. The node limit is crossed at line 10.
var laughs = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n" + safeyaml.AliasBomb()

// anchored uses anchors as people do: a shared value and a merge key.
const anchored = `apiVersion: v1
kind: ConfigMap
metadata:
  name: anchored
  labels: &labels
    app.kubernetes.io/name: demo
  annotations:
    <<: *labels
    note: shared
data:
  primary: &endpoint https://example.com
  secondary: *endpoint
`

// tooDeep is a ConfigMap nested deeper than safeyaml.DefaultMaxDepth.
var tooDeep = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nnested: " +
	strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n"

// TestBuildYAMLBomb checks that every file a build parses is bounded by
// safeyaml.DefaultLimits: a bomb fails the build in well under a second,
// with an error naming the file from the artifact root, and legitimate
// anchors and non-YAML generator sources still build.
func TestBuildYAMLBomb(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		path    string
		opts    Options
		wantErr string // empty: the build succeeds
		limit   safeyaml.Limit
		check   func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{
			name: "bomb resource of a kustomization",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [cm.yaml, bomb.yaml]\n",
				"apps/cm.yaml":            configMap("a"),
				"apps/bomb.yaml":          laughs,
			},
			path:    "apps",
			wantErr: `kustomize build "apps": apps/bomb.yaml: yaml aliases expand to more than 4000000 nodes (document 1, line 10, alias *f)`,
			limit:   safeyaml.LimitNodes,
		},
		{
			name: "bomb in a generated kustomization",
			files: map[string]string{
				"apps/cm.yaml":   configMap("a"),
				"apps/bomb.yaml": laughs,
			},
			path:    "apps",
			wantErr: `kustomization "apps": apps/bomb.yaml: yaml aliases expand to more than 4000000 nodes`,
			limit:   safeyaml.LimitNodes,
		},
		{
			name: "bomb after a broken document",
			files: map[string]string{
				"kustomization.yaml": "resources: [bomb.yaml]\n",
				"bomb.yaml":          "a: [\n---\n" + laughs,
			},
			wantErr: `kustomize build "": bomb.yaml: yaml aliases expand to more than 4000000 nodes (document 2, line 12, alias *f)`,
			limit:   safeyaml.LimitNodes,
		},
		{
			name: "bomb in a base",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [../base]\n",
				"base/kustomization.yaml": "resources: [bomb.yaml]\n",
				"base/bomb.yaml":          laughs,
			},
			path:    "apps",
			wantErr: `kustomize build "apps": base/bomb.yaml: yaml aliases expand`,
			limit:   safeyaml.LimitNodes,
		},
		{
			name: "bomb in a patch",
			files: map[string]string{
				"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: patch.yaml\n",
				"cm.yaml":            configMap("bomb"),
				"patch.yaml":         laughs,
			},
			wantErr: `kustomize build "": patch.yaml: yaml aliases expand`,
			limit:   safeyaml.LimitNodes,
		},
		{
			name: "bomb in the kustomization file",
			files: map[string]string{
				"kustomization.yaml": "resources: [cm.yaml]\n" + strings.SplitN(laughs, "\n", 4)[3],
				"cm.yaml":            configMap("a"),
			},
			wantErr: `kustomize build "": kustomization.yaml: yaml aliases expand`,
			limit:   safeyaml.LimitNodes,
		},
		{
			// Rewritten with the overrides before kustomize runs.
			name: "bomb in a kustomization file rewritten by the overrides",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [cm.yaml]\n" + strings.SplitN(laughs, "\n", 4)[3],
				"apps/cm.yaml":            configMap("a"),
			},
			path:    "apps",
			opts:    Options{Overrides: Overrides{NamePrefix: "p-"}},
			wantErr: `kustomization "apps": apps/kustomization.yaml: yaml aliases expand`,
			limit:   safeyaml.LimitNodes,
		},
		{
			// The file system cannot tell a generator's read from a
			// resource's or a replacement's, so data files are bounded too.
			name: "bomb as a configMapGenerator file",
			files: map[string]string{
				"kustomization.yaml": "configMapGenerator:\n- name: data\n  files: [bomb.yaml]\n",
				"bomb.yaml":          laughs,
			},
			wantErr: `kustomize build "": bomb.yaml: yaml aliases expand`,
			limit:   safeyaml.LimitNodes,
		},
		{
			name: "resource nested too deep",
			files: map[string]string{
				"kustomization.yaml": "resources: [deep.yaml]\n",
				"deep.yaml":          tooDeep,
			},
			wantErr: `kustomize build "": deep.yaml: yaml nesting deeper than 256 levels (document 1, line 4)`,
			limit:   safeyaml.LimitDepth,
		},
		{
			name: "legitimate anchors",
			files: map[string]string{
				"kustomization.yaml": "resources: [anchored.yaml]\n",
				"anchored.yaml":      anchored,
			},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if len(objs) != 1 {
					t.Fatalf("objects = %v", refs(objs))
				}
				if v, _, _ := unstructured.NestedString(objs[0].Object, "data", "secondary"); v != "https://example.com" {
					t.Errorf("data.secondary = %q, want the anchored value", v)
				}
				if v := objs[0].GetAnnotations()["app.kubernetes.io/name"]; v != "demo" {
					t.Errorf("merged annotation = %q, want demo", v)
				}
			},
		},
		{
			name: "legitimate anchors in a generated kustomization",
			files: map[string]string{
				"apps/anchored.yaml": anchored,
			},
			path: "apps",
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if got := refs(objs); len(got) != 1 || got[0] != "ConfigMap/anchored" {
					t.Fatalf("objects = %v", got)
				}
			},
		},
		{
			name: "generator sources with anchors or not YAML",
			files: map[string]string{
				"kustomization.yaml": "configMapGenerator:\n- name: data\n  files: [compose.yaml, script.sh, app.json]\n" +
					"generatorOptions: {disableNameSuffixHash: true}\n",
				"compose.yaml": "x-env: &env {LOG: debug}\nservices:\n  web: {environment: *env}\n  worker: {environment: *env}\n",
				"script.sh":    "#!/bin/sh\nset -eu\n[ -n \"$1\" ] && echo \"{ $1: }\" | tr -d '\\t'\n",
				"app.json":     `{"a": [1, {"b": "c"}], "d": null}`,
			},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if len(objs) != 1 {
					t.Fatalf("objects = %v", refs(objs))
				}
				if v, _, _ := unstructured.NestedString(objs[0].Object, "data", "compose.yaml"); !strings.Contains(v, "*env") {
					t.Errorf("compose.yaml = %q, want it verbatim", v)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			start := time.Now()
			objs, err := Build(t.Context(), root, tt.path, tt.opts)
			elapsed := time.Since(start)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.check != nil {
					tt.check(t, objs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			var le *safeyaml.LimitError
			if !errors.As(err, &le) || le.Limit != tt.limit {
				t.Fatalf("err = %v, want a *safeyaml.LimitError on %v", err, tt.limit)
			}
			// Without the limits, kustomize spends minutes and gigabytes.
			if elapsed > 5*time.Second {
				t.Errorf("build failed after %v, want it to fail fast", elapsed)
			}
		})
	}
}

// TestBuildDecryptedYAMLBomb checks that decrypted data is bounded too: a
// SOPS binary envelope decrypts to any bytes, here a bomb used as a patch.
func TestBuildDecryptedYAMLBomb(t *testing.T) {
	envelope := sopsfile.Encrypt(t, []byte(laughs), sopsfile.Binary, sopsfile.Options{}, []keys.MasterKey{ageKey(t, "age1.agekey")})
	root := writeTree(t, map[string]string{
		"kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: patch.bin\n",
		"cm.yaml":            configMap("bomb"),
		"patch.bin":          string(envelope),
	})
	d, err := NewDecryptor(sopsKeys(t, "age1.agekey"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(t.Context(), root, "", Options{Decryptor: d})
	want := fmt.Sprintf("decrypted patch.bin: yaml aliases expand to more than %d nodes", safeyaml.DefaultMaxNodes)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want containing %q", err, want)
	}
	if le := (*safeyaml.LimitError)(nil); !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *safeyaml.LimitError", err)
	}
}

// TestSubstituteYAMLBomb checks that post-build substitution cannot build a
// bomb either: defaults written in the repository are expanded as YAML text.
func TestSubstituteYAMLBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: subst}\ndata:\n  l0: ${x:=&l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]}\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  l%d: ${x:=&l%d [%s*l%d]}\n", i, i, strings.Repeat(fmt.Sprintf("*l%d,", i-1), 8), i-1)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(b.String()), &obj.Object); err != nil {
		t.Fatal(err)
	}
	_, err := SubstituteObject(obj, map[string]string{}, true)
	want := "post-build substitution ConfigMap/subst: yaml aliases expand to more than"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want containing %q", err, want)
	}
	if le := (*safeyaml.LimitError)(nil); !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *safeyaml.LimitError", err)
	}
}
