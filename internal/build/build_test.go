package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// writeTree creates files (path → content) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func refs(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, ObjectRef(o))
	}
	return out
}

const cm = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data:
  key: value
`

func configMap(name string) string { return strings.Replace(cm, "%s", name, 1) }

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    app.kubernetes.io/part-of: demo
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: podinfo:1.0.0
`

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		path    string
		opts    Options
		want    []string
		wantErr string
		check   func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{
			name: "generated kustomization lists manifests recursively",
			files: map[string]string{
				"apps/a.yaml":                  configMap("a"),
				"apps/sub/b.yml":               configMap("b"),
				"apps/notes.txt":               "not yaml",
				"apps/base/kustomization.yaml": "resources: [c.yaml]\nnamePrefix: base-\n",
				"apps/base/c.yaml":             configMap("c"),
				"apps/base/ignored.yaml":       "this is: not a k8s object",
			},
			path: "apps",
			want: []string{"ConfigMap/a", "ConfigMap/base-c", "ConfigMap/b"},
		},
		{
			name:  "buildMetadata annotates origins and transformers",
			files: map[string]string{"kustomization.yaml": "resources: [a.yaml]\nbuildMetadata: [originAnnotations]\n", "a.yaml": configMap("a")},
			path:  ".",
			opts: Options{Overrides: Overrides{NamePrefix: "p-",
				BuildMetadata: []string{"originAnnotations", "transformerAnnotations"}}},
			want: []string{"ConfigMap/p-a"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				a := objs[0].GetAnnotations()
				if !strings.Contains(a["config.kubernetes.io/origin"], "path: a.yaml") {
					t.Errorf("origin annotation = %q", a["config.kubernetes.io/origin"])
				}
				if !strings.Contains(a["alpha.config.kubernetes.io/transformations"], "kind: PrefixTransformer") {
					t.Errorf("transformations annotation = %q", a["alpha.config.kubernetes.io/transformations"])
				}
			},
		},
		{
			name:    "generated kustomization rejects non-Kubernetes YAML",
			files:   map[string]string{"x.yaml": configMap("a"), "ci.yaml": "- just\n- a list\n"},
			path:    ".",
			wantErr: "ci.yaml",
		},
		{
			name:  "existing kustomization is used",
			files: map[string]string{"kustomization.yaml": "resources: [a.yaml]\n", "a.yaml": configMap("a"), "b.yaml": configMap("b")},
			path:  "./",
			want:  []string{"ConfigMap/a"},
		},
		{
			name:  "overrides on a generated kustomization",
			files: map[string]string{"deploy.yaml": deployment, "cm.yaml": configMap("cfg")},
			path:  "",
			opts: Options{Overrides: Overrides{
				TargetNamespace: "prod",
				NamePrefix:      "p-",
				NameSuffix:      "-s",
				Images:          []kustomize.Image{{Name: "podinfo", NewName: "ghcr.io/podinfo", NewTag: "2.0.0"}},
				Patches: []kustomize.Patch{
					{
						Patch:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  replicas: 3\n",
						Target: &kustomize.Selector{Kind: "Deployment", LabelSelector: "app.kubernetes.io/part-of=demo"},
					},
					{
						Patch:  "- op: add\n  path: /data/extra\n  value: patched\n",
						Target: &kustomize.Selector{Kind: "ConfigMap", Name: "cfg"},
					},
				},
				CommonMetadata: &kustomizev1.CommonMetadata{Labels: map[string]string{"team": "x"}, Annotations: map[string]string{"note": "y"}},
			}},
			want: []string{"ConfigMap/prod/p-cfg-s", "Deployment/prod/p-app-s"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				d := objs[1]
				if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 3 {
					t.Errorf("replicas = %d, want 3", r)
				}
				cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
				if img := cs[0].(map[string]any)["image"]; img != "ghcr.io/podinfo:2.0.0" {
					t.Errorf("image = %v", img)
				}
				if v, _, _ := unstructured.NestedString(objs[0].Object, "data", "extra"); v != "patched" {
					t.Errorf("json6902 patch not applied: %q", v)
				}
				for _, o := range objs {
					if o.GetLabels()["team"] != "x" || o.GetAnnotations()["note"] != "y" {
						t.Errorf("%s: commonMetadata missing: %v %v", ObjectRef(o), o.GetLabels(), o.GetAnnotations())
					}
				}
				// commonMetadata must not leak into selectors.
				if sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels"); sel["team"] != "" {
					t.Errorf("commonMetadata changed the selector: %v", sel)
				}
			},
		},
		{
			name: "overrides merged into an existing kustomization, images by name",
			files: map[string]string{
				"kustomization.yaml": "namespace: dev\nresources: [deploy.yaml]\nimages:\n- name: podinfo\n  newTag: 9.9.9\n",
				"deploy.yaml":        deployment,
			},
			opts: Options{Overrides: Overrides{TargetNamespace: "prod", Images: []kustomize.Image{{Name: "podinfo", NewTag: "3.0.0"}}}},
			want: []string{"Deployment/prod/app"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
				if img := cs[0].(map[string]any)["image"]; img != "podinfo:3.0.0" {
					t.Errorf("image = %v", img)
				}
			},
		},
		{
			name: "components, missing one ignored",
			files: map[string]string{
				"app/kustomization.yaml":  "resources: [cm.yaml]\n",
				"app/cm.yaml":             configMap("cfg"),
				"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [extra.yaml]\n",
				"comp/extra.yaml":         configMap("extra"),
			},
			path: "app",
			opts: Options{Overrides: Overrides{Components: []string{"../comp", "../missing"}, IgnoreMissingComponents: true}},
			want: []string{"ConfigMap/cfg", "ConfigMap/extra"},
		},
		{
			name: "missing component is an error",
			files: map[string]string{
				"app/kustomization.yaml": "resources: [cm.yaml]\n",
				"app/cm.yaml":            configMap("cfg"),
			},
			path:    "app",
			opts:    Options{Overrides: Overrides{Components: []string{"../missing"}}},
			wantErr: `component "../missing": path not found`,
		},
		{
			name:    "path escaping the root",
			files:   map[string]string{"a.yaml": configMap("a")},
			path:    "../..",
			wantErr: "outside the artifact root",
		},
		{
			name:    "resource escaping the root",
			files:   map[string]string{"kustomization.yaml": "resources: [../../../../../../etc/hosts]\n"},
			wantErr: "outside the artifact root",
		},
		{
			name:    "missing path",
			files:   map[string]string{"a.yaml": configMap("a")},
			path:    "nope",
			wantErr: `kustomization path "nope" not found`,
		},
		{
			name:    "remote base refused",
			files:   map[string]string{"kustomization.yaml": "resources:\n- https://github.com/org/repo//deploy?ref=v1\n"},
			opts:    Options{NoRemoteBases: true},
			wantErr: "remote bases are not allowed",
		},
		{
			name:    "remote git base refused",
			files:   map[string]string{"kustomization.yaml": "resources:\n- github.com/org/repo/deploy?ref=v1\n"},
			opts:    Options{NoRemoteBases: true},
			wantErr: "remote bases are not allowed",
		},
		{
			name:    "object without name",
			files:   map[string]string{"kustomization.yaml": "resources: [a.yaml]\n", "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"},
			wantErr: "metadata.name",
		},
		{
			name:    "invalid kustomization is an error, not a panic",
			files:   map[string]string{"kustomization.yaml": "resources: {not: a list}\n"},
			wantErr: "kustomize build",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			objs, err := Build(t.Context(), root, tt.path, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := refs(objs)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("objects = %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, objs)
			}
			// The build never writes into the artifact.
			if _, err := os.Stat(filepath.Join(root, tt.path, "kustomization.yaml")); err == nil && tt.files[filepath.Join(tt.path, "kustomization.yaml")] == "" {
				t.Errorf("kustomization.yaml was written to the artifact")
			}
		})
	}
}

func TestBuildSymlinks(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret.yaml": configMap("stolen"), "dir/x.yaml": configMap("x")})
	tests := []struct {
		name    string
		link    string
		target  string
		files   map[string]string
		wantErr string
		want    []string
	}{
		{
			name:    "file symlink out of the root",
			link:    "leak.yaml",
			target:  filepath.Join(outside, "secret.yaml"),
			files:   map[string]string{"kustomization.yaml": "resources: [leak.yaml]\n"},
			wantErr: "outside the artifact root",
		},
		{
			name:    "file symlink out of the root in a generated kustomization",
			link:    "leak.yaml",
			target:  filepath.Join(outside, "secret.yaml"),
			files:   map[string]string{"a.yaml": configMap("a")},
			wantErr: "outside the artifact root",
		},
		{
			name:    "directory symlink out of the root",
			link:    "base",
			target:  filepath.Join(outside, "dir"),
			files:   map[string]string{"kustomization.yaml": "resources: [base/x.yaml]\n"},
			wantErr: "outside the artifact root",
		},
		{
			name:   "symlink inside the root is fine",
			link:   "alias.yaml",
			target: "real.yaml",
			files:  map[string]string{"kustomization.yaml": "resources: [alias.yaml]\n", "real.yaml": configMap("real")},
			want:   []string{"ConfigMap/real"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			if err := os.Symlink(tt.target, filepath.Join(root, tt.link)); err != nil {
				t.Fatal(err)
			}
			objs, err := Build(t.Context(), root, "", Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrOutsideRoot) && !strings.Contains(err.Error(), ErrOutsideRoot.Error()) {
					t.Fatalf("err = %v, want ErrOutsideRoot", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := refs(objs); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("objects = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	a := writeTree(t, map[string]string{"a.yaml": configMap("a")})
	b := writeTree(t, map[string]string{"a.yaml": configMap("a")})
	c := writeTree(t, map[string]string{"a.yaml": configMap("b")})
	da, err := Digest(t.Context(), a, map[string]string{"x": "1"})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := Digest(t.Context(), b, map[string]string{"x": "1"})
	dc, _ := Digest(t.Context(), c, map[string]string{"x": "1"})
	dx, _ := Digest(t.Context(), a, map[string]string{"x": "2"})
	if da != db || !strings.HasPrefix(da, "sha256:") {
		t.Errorf("same inputs, different digests: %s %s", da, db)
	}
	if da == dc || da == dx {
		t.Errorf("different inputs, same digest")
	}
}
