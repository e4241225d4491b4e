package bootstrap

import (
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/install"
)

func TestDirAndTitle(t *testing.T) {
	cases := []struct {
		path, dir, title string
	}{
		{"", "flux-system", "weir-flux-system-main"},
		{"clusters/prod", "clusters/prod/flux-system", "weir-flux-system-main-clusters-prod"},
		{"./clusters/prod/", "clusters/prod/flux-system", "weir-flux-system-main-clusters-prod"},
	}
	for _, tc := range cases {
		o := SyncOptions{Namespace: "flux-system", Branch: "main", Path: tc.path}
		if got := Dir(o); got != tc.dir {
			t.Errorf("Dir(%q) = %q, want %q", tc.path, got, tc.dir)
		}
		if got := DeployKeyTitle(o); got != tc.title {
			t.Errorf("DeployKeyTitle(%q) = %q, want %q", tc.path, got, tc.title)
		}
	}
}

func TestSSHURL(t *testing.T) {
	for in, want := range map[string]string{
		"git@github.com:hops-ops/fleet.git":       "ssh://git@github.com/hops-ops/fleet.git",
		"ssh://git@127.0.0.1:2222/hops/fleet.git": "ssh://git@127.0.0.1:2222/hops/fleet.git",
	} {
		if got := SSHURL(in); got != want {
			t.Errorf("SSHURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilesAreFluxs(t *testing.T) {
	files, err := Files(install.DefaultOptions(), SyncOptions{Namespace: "flux-system", Branch: "main", Path: "clusters/prod",
		URL: "ssh://git@github.com/o/r", Interval: time.Minute, SecretName: "flux-system"})
	if err != nil {
		t.Fatal(err)
	}
	sync := string(files["clusters/prod/flux-system/gotk-sync.yaml"])
	for _, want := range []string{"path: ./clusters/prod", "url: ssh://git@github.com/o/r", "interval: 1m0s", "prune: true", "name: flux-system"} {
		if !strings.Contains(sync, want) {
			t.Errorf("gotk-sync.yaml lacks %q:\n%s", want, sync)
		}
	}
	if !strings.Contains(string(files["clusters/prod/flux-system/gotk-components.yaml"]), "kind: CustomResourceDefinition") {
		t.Error("gotk-components.yaml has no CRDs")
	}
	if k := string(files["clusters/prod/flux-system/kustomization.yaml"]); !strings.Contains(k, "- gotk-components.yaml\n- gotk-sync.yaml") {
		t.Errorf("kustomization.yaml = %s", k)
	}
}
