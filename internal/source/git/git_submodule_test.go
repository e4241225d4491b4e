package git

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/proxy"
)

// gitHostName is a name only the test proxy resolves: a fetch that reaches it went through
// the proxy.
const gitHostName = "git.weir.test"

// TestCloneSubmodulesTLSAndProxy checks out nested submodules (one with a relative URL) from a
// server that requires a client certificate from a private CA and basic auth, under a name
// only the proxy resolves: the submodules are fetched with the parent's CA, client certificate,
// proxy and credentials. A submodule on another host does not get the credentials.
func TestCloneSubmodulesTLSAndProxy(t *testing.T) {
	root := gitserver.NewRoot(t)
	deep := root.NewRepo("deep")
	deepHead := deep.Commit("master", "deep", map[string]string{"deep.txt": "deep\n"})
	lib := root.NewRepo("lib")
	lib.Commit("master", "lib", map[string]string{"lib.yaml": "kind: Lib\n"})
	libHead := lib.Submodule("master", "nested", "../deep", deepHead)
	app := root.NewRepo("app")
	app.Commit("main", "app", map[string]string{"app.yaml": "kind: App\n"})
	app.Submodule("main", "vendor/lib", "../lib", libHead)
	srv := root.ServeHTTP(gitserver.HTTPOptions{ClientCert: true, DNSName: gitHostName, Username: "git", Password: "s3cret"})
	p := proxy.Start(t, proxy.Options{Username: "proxy-user", Password: "proxy-pass", Hosts: map[string]string{gitHostName: "127.0.0.1"}})

	u, err := url.Parse(srv.RepoURL("app"))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = gitHostName + ":" + u.Port()
	auth := Auth{
		Username: "git", Password: "s3cret",
		CACert: srv.CAPEM, ClientCert: srv.ClientCertPEM, ClientKey: srv.ClientKeyPEM,
		Proxy: &Proxy{Address: p.URL, Username: "proxy-user", Password: "proxy-pass"},
	}
	for _, c := range clones {
		t.Run(c.name, func(t *testing.T) {
			co, err := c.clone(t.Context(), t.TempDir(), Options{URL: u.String(), Reference: Reference{Branch: "main"}, Auth: auth, RecurseSubmodules: true})
			if err != nil {
				t.Fatal(err)
			}
			for file, want := range map[string]string{
				"app.yaml":                   "kind: App\n",
				"vendor/lib/lib.yaml":        "kind: Lib\n",
				"vendor/lib/nested/deep.txt": "deep\n",
			} {
				got, err := os.ReadFile(filepath.Join(co.Dir, filepath.FromSlash(file)))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", file, got, err, want)
				}
			}
			// Each submodule's ".git" file is in the tree, and so in artifacts, as ever.
			if fi, err := os.Stat(filepath.Join(co.Dir, "vendor/lib/.git")); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("vendor/lib/.git: %v", err)
			}
		})
	}
	if len(p.Targets()) == 0 {
		t.Error("nothing went through the proxy")
	}

	t.Run("without submodules", func(t *testing.T) {
		co, err := Clone(t.Context(), t.TempDir(), Options{URL: u.String(), Reference: Reference{Branch: "main"}, Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(co.Dir, "vendor/lib/lib.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("submodule checked out without recurseSubmodules: %v", err)
		}
	})

	t.Run("credentials stay with the parent's host", func(t *testing.T) {
		otherRoot := gitserver.NewRoot(t)
		other := otherRoot.NewRepo("other")
		otherHead := other.Commit("master", "other", map[string]string{"o.txt": "o\n"})
		otherSrv := otherRoot.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "s3cret"})
		app.Submodule("leaky", "other", otherSrv.RepoURL("other"), otherHead)
		for _, c := range clones {
			_, err := c.clone(t.Context(), t.TempDir(), Options{URL: u.String(), Reference: Reference{Branch: "leaky"}, Auth: auth, RecurseSubmodules: true})
			if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "submodule 'other'") {
				t.Fatalf("%s: error = %v, want ErrAuthentication for submodule 'other'", c.name, err)
			}
		}
	})

	t.Run("local submodule url refused", func(t *testing.T) {
		app.Submodule("local", "etc", "file:///etc", deepHead)
		for _, c := range clones {
			_, err := c.clone(t.Context(), t.TempDir(), Options{URL: u.String(), Reference: Reference{Branch: "local"}, Auth: auth, RecurseSubmodules: true})
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("%s: error = %v, want ErrInvalidURL", c.name, err)
			}
		}
	})
}
