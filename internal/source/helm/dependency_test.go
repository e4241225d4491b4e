package helm

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/weirgitops/weir/internal/source/oci"
)

func TestKind(t *testing.T) {
	cases := []struct {
		name, repository string
		want             RepositoryKind
		err              error
	}{
		{"file", "file://../common", LocalRepository, nil},
		{"https", "https://charts.example.com/stable", HTTPRepository, nil},
		{"http", "http://127.0.0.1:8080", HTTPRepository, nil},
		{"oci", "oci://ghcr.io/org/charts", OCIRepository, nil},
		{"at alias", "@stable", 0, ErrAliasedRepository},
		{"alias prefix", "alias:stable", 0, ErrAliasedRepository},
		{"empty", "", 0, ErrDependencyRepository},
		{"unknown scheme", "s3://bucket/charts", 0, ErrDependencyRepository},
		{"bare path", "../common", 0, ErrDependencyRepository},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Kind(c.repository)
			if !errors.Is(err, c.err) || (c.err == nil && got != c.want) {
				t.Errorf("Kind(%q) = %v, %v; want %v, %v", c.repository, got, err, c.want, c.err)
			}
		})
	}
}

func TestNormalizeRepositoryURL(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"http adds slash", "https://charts.example.com", "https://charts.example.com/"},
		{"http keeps one slash", "https://charts.example.com/stable//", "https://charts.example.com/stable/"},
		{"oci drops slash", "oci://ghcr.io/org/charts/", "oci://ghcr.io/org/charts"},
		{"empty", "", ""},
		{"other unchanged", "file://../x/", "file://../x/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := NormalizeRepositoryURL(c.in); got != c.want {
				t.Errorf("NormalizeRepositoryURL(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestLocalPath(t *testing.T) {
	root := filepath.FromSlash("/src")
	chartDir := filepath.FromSlash("/src/charts/app")
	cases := []struct {
		name, repository, want string
		escape                 bool
	}{
		{"sibling", "file://../common", "/src/charts/common", false},
		{"child", "file://./sub", "/src/charts/app/sub", false},
		{"root", "file://../..", "/src", false},
		{"absolute stays under the chart", "file:///lib/common", "/src/charts/app/lib/common", false},
		{"leaves the root", "file://../../../etc", "", true},
		{"leaves through the path", "file://./../../../../etc/passwd", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := LocalPath(root, chartDir, c.repository)
			if c.escape {
				if !errors.Is(err, ErrPathEscape) {
					t.Errorf("LocalPath(%q) = %q, %v; want ErrPathEscape", c.repository, got, err)
				}
				return
			}
			if err != nil || got != filepath.FromSlash(c.want) {
				t.Errorf("LocalPath(%q) = %q, %v; want %q", c.repository, got, err, c.want)
			}
		})
	}
	if _, err := LocalPath(root, chartDir, "https://example.com"); err == nil {
		t.Error("LocalPath accepted an https URL")
	}
}

func TestOCIRef(t *testing.T) {
	cases := []struct {
		name, version string
		want          oci.Ref
	}{
		{"exact", "6.1.0", oci.Ref{Tag: "6.1.0"}},
		{"exact with v", "v6.1.0", oci.Ref{Tag: "v6.1.0"}},
		{"range", "6.x", oci.Ref{SemVer: "6.x"}},
		{"none", "", oci.Ref{SemVer: "*"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := OCIRef(c.version); got != c.want {
				t.Errorf("OCIRef(%q) = %+v, want %+v", c.version, got, c.want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	vendored := &chart.Chart{Metadata: &chart.Metadata{Name: "redis", Version: "1.0.0"}}
	dep := func(name, alias string) *chart.Dependency {
		return &chart.Dependency{Name: name, Alias: alias, Version: "1.x", Repository: "https://example.com"}
	}
	cases := []struct {
		name string
		deps []*chart.Dependency
		lock []*chart.Dependency
		want []string
	}{
		{"none declared", nil, nil, nil},
		{"vendored kept", []*chart.Dependency{dep("redis", "")}, nil, nil},
		{"vendored under an alias kept", []*chart.Dependency{dep("redis", "cache")}, nil, nil},
		{"missing in order", []*chart.Dependency{dep("b", ""), dep("redis", ""), dep("a", "")}, nil, []string{"b", "a"}},
		{"lock wins", []*chart.Dependency{dep("a", "")}, []*chart.Dependency{dep("b", "")}, []string{"b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := &chart.Chart{Metadata: &chart.Metadata{Name: "app", Version: "1.0.0", Dependencies: c.deps}}
			if c.lock != nil {
				ch.Lock = &chart.Lock{Dependencies: c.lock}
			}
			ch.AddDependency(vendored)
			var got []string
			for _, d := range Missing(ch) {
				got = append(got, d.Name)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("Missing = %v, want %v", got, c.want)
			}
		})
	}
}

// writeTree writes files (slash paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDependenciesBuildLocal builds file:// dependencies from a source tree on disk: the chart
// gains them once each; a wrong or missing version, a missing path and a path or symlink
// leaving the source fail naming the dependency, and nothing outside the source is read.
func TestDependenciesBuildLocal(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret/Chart.yaml": "apiVersion: v2\nname: secret\nversion: 1.0.0\n"})
	cases := []struct {
		name, deps string
		want       []string // dependency names after the build
		err        string
	}{
		{"sibling and alias", "- name: common\n  version: 1.x\n  repository: file://../common\n" +
			"- name: common\n  alias: shared\n  version: 1.x\n  repository: file://../common\n", []string{"vendored", "common"}, ""},
		{"vendored kept", "- name: vendored\n  version: 2.0.0\n", []string{"vendored"}, ""},
		{"version mismatch", "- name: common\n  version: 2.x\n  repository: file://../common\n", nil,
			"failed to add local dependency 'common': can't get a valid version for constraint '2.x'"},
		{"missing version", "- name: common\n  repository: file://../common\n", nil,
			"failed to add local dependency 'common': invalid version/constraint format ''"},
		{"missing path", "- name: nope\n  version: 1.x\n  repository: file://../nope\n", nil,
			"failed to add local dependency 'nope': no chart found at 'charts/nope' (reference 'file://../nope')"},
		{"path escape", "- name: secret\n  version: 1.x\n  repository: file://../../../secret\n", nil,
			"failed to add local dependency 'secret': path leaves the source: 'file://../../../secret'"},
		{"symlink escape", "- name: secret\n  version: 1.x\n  repository: file://../link\n", nil,
			"failed to add local dependency 'secret': path leaves the source: 'file://../link'"},
		{"alias repository", "- name: redis\n  version: 1.x\n  repository: '@stable'\n", nil,
			"failed to add dependency 'redis': aliased repository dependency is not supported: '@stable'"},
		{"no repository", "- name: absent\n  version: 1.x\n", nil,
			"failed to add dependency 'absent': invalid dependency repository URL: none given"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{
				"charts/app/Chart.yaml":                    "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n" + c.deps,
				"charts/app/charts/vendored/Chart.yaml":    "apiVersion: v2\nname: vendored\nversion: 2.0.0\n",
				"charts/common/Chart.yaml":                 "apiVersion: v2\nname: common\nversion: 1.4.0\n",
				"charts/common/templates/_helpers.tpl":     "{{- define \"common.name\" -}}common{{- end -}}\n",
				"charts/app/templates/configmap.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
				"charts/app/values.yaml":                   "a: 1\n",
				"charts/app/charts/vendored/values.yaml":   "b: 2\n",
				"charts/common/values.yaml":                "c: 3\n",
				"charts/app/charts/vendored/templates/x.t": "",
			})
			if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "charts", "link")); err != nil {
				t.Fatal(err)
			}
			chartDir := filepath.Join(root, "charts", "app")
			ch, err := LoadDir(chartDir)
			if err != nil {
				t.Fatal(err)
			}
			d := &Dependencies{Root: root, Chart: chartDir}
			_, err = d.Build(t.Context(), ch)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Build error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sub := range ch.Dependencies() {
				got = append(got, sub.Name())
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("dependencies %v, want %v", got, c.want)
			}
		})
	}
}

// TestDependenciesBuildRemoteRedacts: credentials written into a dependency's repository URL
// stay out of the error, which names the dependency and the repository's answer.
func TestDependenciesBuildRemoteRedacts(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	repoURL := strings.Replace(srv.URL, "://", "://user:hunter2-secret@", 1)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n" +
		"- name: redis\n  version: 1.x\n  repository: " + repoURL + "\n"})
	ch, err := LoadDir(filepath.Join(root, "app"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Dependencies{Root: root, Chart: filepath.Join(root, "app"), Indexes: &IndexCache{}}
	_, err = d.Build(t.Context(), ch)
	if err == nil || strings.Contains(err.Error(), "hunter2") ||
		!strings.Contains(err.Error(), "failed to add remote dependency 'redis'") || !strings.Contains(err.Error(), "404") {
		t.Errorf("Build error %v", err)
	}
}

// FuzzLocalPath: whatever the repository field says, LocalPath returns a path inside the root
// or an error, and never panics.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"file://../common", "file://./x", "file:///abs", "file://../../../../etc", "file://%2e%2e/x", "file://", "https://x"} {
		f.Add(s)
	}
	root := filepath.FromSlash("/src")
	chartDir := filepath.FromSlash("/src/charts/app")
	f.Fuzz(func(t *testing.T, repository string) {
		p, err := LocalPath(root, chartDir, repository)
		if err == nil && !within(root, p) {
			t.Errorf("LocalPath(%q) = %q, outside %s", repository, p, root)
		}
	})
}
