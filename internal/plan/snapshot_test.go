package plan

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSameRepository(t *testing.T) {
	tests := []struct {
		url  string
		urls []string
		want bool
	}{
		{"https://github.com/org/fleet", []string{"git@github.com:org/fleet.git"}, true},
		{"ssh://git@github.com/org/fleet.git", []string{"https://token@github.com/org/fleet"}, true},
		{"https://github.com:443/Org/Fleet/", []string{"https://github.com/org/fleet.git"}, true},
		{"https://github.com/org/fleet-other", []string{"https://github.com/org/fleet"}, false},
		{"https://gitlab.com/org/fleet", []string{"https://github.com/org/fleet"}, false},
		{"/srv/git/fleet", []string{"/srv/git/fleet"}, false},
	}
	for _, tt := range tests {
		if got := sameRepository(tt.url, tt.urls); got != tt.want {
			t.Errorf("sameRepository(%q, %q) = %v, want %v", tt.url, tt.urls, got, tt.want)
		}
	}
}

// TestDiscoverSelfURLs builds a Kustomization whose GitRepository, declared in the
// repository, is the checkout itself under another name.
func TestDiscoverSelfURLs(t *testing.T) {
	dir := t.TempDir()
	for p, content := range map[string]string{
		"clusters/prod/src.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: apps-repo\n  namespace: flux-system\n" +
			"spec:\n  interval: 1h\n  url: https://github.com/org/fleet\n",
		"clusters/prod/apps.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\n" +
			"spec:\n  interval: 1h\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: apps-repo\n",
		"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\n",
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name       string
		self       []string
		unresolved bool
	}{
		{"the checkout's remote", []string{"git@github.com:org/fleet.git"}, false},
		{"another repository", []string{"git@github.com:org/other.git"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Discover(t.Context(), Options{Dir: dir, RootPath: "clusters/prod", SelfURLs: tt.self})
			if err != nil {
				t.Fatal(err)
			}
			u := s.Unit("Kustomization/flux-system/apps")
			if u == nil {
				t.Fatal("apps not discovered")
			}
			if u.Unresolved != tt.unresolved {
				t.Fatalf("apps unresolved = %v (%s), want %v", u.Unresolved, u.Err, tt.unresolved)
			}
			if !tt.unresolved && (len(u.Objects) != 1 || u.Objects[0].GetName() != "app") {
				t.Fatalf("apps objects = %v", u.Objects)
			}
		})
	}
}
