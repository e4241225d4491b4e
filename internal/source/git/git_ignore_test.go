package git

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFilter(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".sourceignore", "# comment\nsecrets/\n")
	write("apps/.sourceignore", "*.txt\n!keep.txt\n")
	str := func(s string) *string { return &s }

	tests := []struct {
		name   string
		ignore *string
		path   string
		isDir  bool
		want   bool
	}{
		{"git dir", nil, ".git", true, true},
		{"file in git dir", nil, ".git/config", false, true},
		{"gitignore", nil, ".gitignore", false, true},
		{"gitmodules nested", nil, "sub/.gitmodules", false, true},
		{"png", nil, "img/logo.png", false, true},
		{"tar.gz", nil, "dist/x.tar.gz", false, true},
		{"github dir", nil, ".github", true, true},
		{"github workflow", nil, ".github/workflows/ci.yaml", false, true},
		{"travis", nil, ".travis.yml", false, true},
		{"sops nested", nil, "clusters/prod/.sops.yaml", false, true},
		{"flux.yaml nested", nil, "a/b/.flux.yaml", false, true},
		{"goreleaser", nil, ".goreleaser.yml", false, true},
		{"yaml kept", nil, "apps/app.yaml", false, false},
		{"sourceignore kept", nil, ".sourceignore", false, false},
		{"root sourceignore dir", nil, "secrets", true, true},
		{"root sourceignore file", nil, "secrets/key.yaml", false, true},
		{"nested sourceignore", nil, "apps/notes.txt", false, true},
		{"nested sourceignore scoped", nil, "notes.txt", false, false},
		{"nested negation", nil, "apps/keep.txt", false, false},
		{"spec.ignore replaces defaults", str("*.yaml\n"), "img/logo.png", false, false},
		{"spec.ignore applies", str("*.yaml\n"), "apps/app.yaml", false, true},
		{"spec.ignore keeps vcs", str("*.yaml\n"), ".git/config", false, true},
		{"spec.ignore with sourceignore", str("*.yaml\n"), "secrets/x", false, true},
		{"spec.ignore overrules sourceignore", str("!secrets/\n"), "secrets/x", false, false},
		{"root", nil, ".", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(dir, tt.ignore)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Excluded(tt.path, tt.isDir); got != tt.want {
				t.Fatalf("Excluded(%q, %v) = %v, want %v", tt.path, tt.isDir, got, tt.want)
			}
		})
	}
}

func TestDefaultExclusions(t *testing.T) {
	got := DefaultExclusions()
	want := []string{
		".git/", ".gitignore", ".gitmodules", ".gitattributes",
		"*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
		".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
		"cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
		"**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d patterns, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pattern %d = %q, want %q", i, got[i], want[i])
		}
	}
}
