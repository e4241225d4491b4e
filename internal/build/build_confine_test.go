package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestBuildStaysInsideRoot tries every way a kustomization can name a file and checks that
// none reaches a file outside the artifact root: the build fails, naming the entry, and the
// outside object is never among the results.
func TestBuildStaysInsideRoot(t *testing.T) {
	outside := writeTree(t, map[string]string{
		"cm.yaml": configMap("stolen"), "kustomization.yaml": "resources: [cm.yaml]\n",
		"env": "SECRET=stolen\n", "file.txt": "stolen\n",
	})
	// A directory named like kustomize's remote-base clones, made by somebody else (another
	// build's clone), is outside too.
	clone, err := os.MkdirTemp("", "kustomize-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(clone) })
	if err := os.WriteFile(filepath.Join(clone, "cm.yaml"), []byte(configMap("stolen")), 0o644); err != nil {
		t.Fatal(err)
	}
	climb := strings.Repeat("../", 12) + strings.TrimPrefix(outside, "/")
	tests := []struct {
		name, kustomization, entry string
	}{
		{"absolute resource", "resources: [" + outside + "/cm.yaml]\n", outside + "/cm.yaml"},
		{"absolute directory", "resources: [" + outside + "]\n", outside},
		{"climbing resource", "resources: [" + climb + "/cm.yaml]\n", "cm.yaml"},
		{"another build's clone", "resources: [" + clone + "/cm.yaml]\n", clone},
		{"component", "components: [" + climb + "]\n", outside},
		{"configMapGenerator files", "configMapGenerator:\n- name: x\n  files: [" + outside + "/file.txt]\n", "file.txt"},
		{"configMapGenerator key=file", "configMapGenerator:\n- name: x\n  files: [k=" + climb + "/file.txt]\n", "file.txt"},
		{"configMapGenerator envs", "configMapGenerator:\n- name: x\n  envs: [" + outside + "/env]\n", "env"},
		{"secretGenerator files", "secretGenerator:\n- name: x\n  files: [" + climb + "/file.txt]\n", "file.txt"},
		{"patch file", "resources: [a.yaml]\npatches:\n- path: " + outside + "/cm.yaml\n", "cm.yaml"},
		{"crds", "crds: [" + outside + "/cm.yaml]\n", "cm.yaml"},
		{"configurations", "configurations: [" + outside + "/cm.yaml]\n", "cm.yaml"},
		{"openapi", "openapi:\n  path: " + outside + "/cm.yaml\n", "cm.yaml"},
		{"replacements", "resources: [a.yaml]\nreplacements:\n- path: " + outside + "/cm.yaml\n", "cm.yaml"},
		{"file protocol base", "resources: [file://" + outside + "]\n", "file://"},
		{"git file protocol base", "resources: [git::file://" + outside + "]\n", "git::file://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{"kustomization.yaml": tt.kustomization, "a.yaml": configMap("a")})
			objs, err := Build(t.Context(), root, "", Options{})
			if err == nil {
				t.Fatalf("build succeeded with %v", refs(objs))
			}
			if !errors.Is(err, ErrOutsideRoot) && !strings.Contains(err.Error(), ErrOutsideRoot.Error()) {
				t.Errorf("err = %v, want it to say the path is outside the artifact root", err)
			}
			if !strings.Contains(err.Error(), tt.entry) {
				t.Errorf("err = %v, want it to name %q", err, tt.entry)
			}
			if strings.Contains(err.Error(), "stolen") {
				t.Errorf("err quotes the outside file: %v", err)
			}
		})
	}
}

// TestBuildRemoteBaseStaysInsideItsClone builds a remote base served over Git smart HTTP: its
// own files build, and a symlink in it that points out of its clone is refused.
func TestBuildRemoteBaseStaysInsideItsClone(t *testing.T) {
	outside := writeTree(t, map[string]string{"cm.yaml": configMap("stolen")})
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("bases")
	repo.Commit("main", "bases", map[string]string{
		"base/kustomization.yaml":  "resources: [cm.yaml]\n",
		"base/cm.yaml":             configMap("remote"),
		"leaky/kustomization.yaml": "resources: [cm.yaml]\n",
		"leaky/cm.yaml":            gitserver.Symlink(filepath.Join(outside, "cm.yaml")),
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})

	local := writeTree(t, map[string]string{"kustomization.yaml": "resources: [\"" + srv.RepoURL("bases") + "//base?ref=main\"]\n"})
	objs, err := Build(t.Context(), local, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(refs(objs), ","); got != "ConfigMap/remote" {
		t.Fatalf("objects = %s, want the remote base's ConfigMap", got)
	}

	local = writeTree(t, map[string]string{"kustomization.yaml": "resources: [\"" + srv.RepoURL("bases") + "//leaky?ref=main\"]\n"})
	objs, err = Build(t.Context(), local, "", Options{})
	if err == nil || !strings.Contains(err.Error(), ErrOutsideRoot.Error()) {
		t.Fatalf("build of a remote base linking out of its clone: objects %v, err %v", refs(objs), err)
	}
}
