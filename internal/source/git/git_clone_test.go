package git

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"golang.org/x/crypto/ssh/knownhosts"
)

// fixture is a repository with a few files served over every transport.
type fixture struct {
	root *gitserver.Root
	repo *gitserver.Repo
	head string
}

// clones are the two ways to fetch a tree, which every behaviour test runs through: the
// repository on disk (Clone, for committing and pushing) and in memory (FetchTree).
var clones = []struct {
	name  string
	clone func(context.Context, string, Options) (*Checkout, error)
}{
	{"disk", Clone},
	{"memory", FetchTree},
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("org/podinfo.git")
	head := repo.Commit("master", "init", map[string]string{
		"deploy/app.yaml": "kind: Deployment\n",
		"README.md":       "# podinfo\n",
	})
	return &fixture{root: root, repo: repo, head: head}
}

func TestCloneTransports(t *testing.T) {
	f := newFixture(t)
	plain := f.root.ServeHTTP(gitserver.HTTPOptions{})
	basic := f.root.ServeHTTP(gitserver.HTTPOptions{Username: "u", Password: "p4ssw0rd"})
	bearer := f.root.ServeHTTP(gitserver.HTTPOptions{BearerToken: "t0ken-abc"})
	tlsSrv := f.root.ServeHTTP(gitserver.HTTPOptions{TLS: true, Username: "u", Password: "p4ssw0rd"})
	mtls := f.root.ServeHTTP(gitserver.HTTPOptions{ClientCert: true})
	sshSrv := f.root.ServeSSH()
	name := f.repo.Name

	tests := []struct {
		name string
		opts Options
	}{
		{"http anonymous", Options{URL: plain.RepoURL(name)}},
		{"http basic", Options{URL: basic.RepoURL(name), Auth: Auth{Username: "u", Password: "p4ssw0rd"}}},
		{"http bearer", Options{URL: bearer.RepoURL(name), Auth: Auth{BearerToken: "t0ken-abc"}}},
		{"https private ca", Options{URL: tlsSrv.RepoURL(name), Auth: Auth{Username: "u", Password: "p4ssw0rd", CACert: tlsSrv.CAPEM}}},
		{"https client cert", Options{URL: mtls.RepoURL(name), Auth: Auth{CACert: mtls.CAPEM, ClientCert: mtls.ClientCertPEM, ClientKey: mtls.ClientKeyPEM}}},
		{"ssh", Options{URL: sshSrv.RepoURL(name), Auth: Auth{SSHPrivateKey: sshSrv.ClientKeyPEM, KnownHosts: sshSrv.KnownHosts}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := "master@sha1:" + f.head
			rev, err := LatestRevision(t.Context(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rev.String() != want {
				t.Fatalf("latest revision %s, want %s", rev, want)
			}
			dir := t.TempDir()
			co, err := Clone(t.Context(), dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if co.Revision.String() != want {
				t.Fatalf("clone revision %s, want %s", co.Revision, want)
			}
			if got := readFile(t, filepath.Join(dir, "deploy/app.yaml")); got != "kind: Deployment\n" {
				t.Fatalf("deploy/app.yaml = %q", got)
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	f := newFixture(t)
	tlsSrv := f.root.ServeHTTP(gitserver.HTTPOptions{TLS: true})
	mtls := f.root.ServeHTTP(gitserver.HTTPOptions{ClientCert: true})
	sshSrv := f.root.ServeSSH()
	name := f.repo.Name
	_, otherHostKey := gitserver.NewSSHKey(t)
	wrongKnownHosts := []byte(knownhosts.Line([]string{sshSrv.Addr}, otherHostKey) + "\n")
	otherClientKey, _ := gitserver.NewSSHKey(t)

	tests := []struct {
		name    string
		opts    Options
		wantErr error
	}{
		{"unknown ca", Options{URL: tlsSrv.RepoURL(name)}, ErrAuthentication},
		{"missing client cert", Options{URL: mtls.RepoURL(name), Auth: Auth{CACert: mtls.CAPEM}}, nil},
		{"ssh wrong host key", Options{URL: sshSrv.RepoURL(name), Auth: Auth{SSHPrivateKey: sshSrv.ClientKeyPEM, KnownHosts: wrongKnownHosts}}, ErrAuthentication},
		{"ssh no known_hosts", Options{URL: sshSrv.RepoURL(name), Auth: Auth{SSHPrivateKey: sshSrv.ClientKeyPEM}}, ErrAuthentication},
		{"ssh unauthorized key", Options{URL: sshSrv.RepoURL(name), Auth: Auth{SSHPrivateKey: otherClientKey, KnownHosts: sshSrv.KnownHosts}}, ErrAuthentication},
		{"ssh garbage key", Options{URL: sshSrv.RepoURL(name), Auth: Auth{SSHPrivateKey: []byte("nope"), KnownHosts: sshSrv.KnownHosts}}, ErrAuthentication},
		{"scp-like url", Options{URL: "git@" + sshSrv.Addr + ":" + name}, ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LatestRevision(t.Context(), tt.opts)
			if err == nil {
				t.Fatal("LatestRevision succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("LatestRevision error = %v, want %v", err, tt.wantErr)
			}
			_, err = Clone(t.Context(), t.TempDir(), tt.opts)
			if err == nil {
				t.Fatal("Clone succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Clone error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestCloneReferences(t *testing.T) {
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("refs.git")
	c1 := repo.Commit("master", "one", map[string]string{"v": "1", "apps/a.yaml": "a", "infra/i.yaml": "i"})
	c2 := repo.Commit("master", "two", map[string]string{"v": "2"})
	c3 := repo.Commit("master", "three", map[string]string{"v": "3"})
	repo.Tag("v1.0.0", c1)
	repo.AnnotatedTag("v1.1.0", c2, "release")
	repo.Tag("v2.0.0", c3)
	pr := repo.Commit("pr", "pr", map[string]string{"v": "pr"})
	repo.SetRef("refs/pull/1/head", pr)
	repo.DeleteRef("refs/heads/pr")
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	url := srv.RepoURL(repo.Name)

	tests := []struct {
		name    string
		ref     Reference
		sparse  []string
		wantRev string
		wantV   string
	}{
		{"branch", Reference{Branch: "master"}, nil, "master@sha1:" + c3, "3"},
		{"lightweight tag", Reference{Tag: "v1.0.0"}, nil, "v1.0.0@sha1:" + c1, "1"},
		{"annotated tag", Reference{Tag: "v1.1.0"}, nil, "v1.1.0@sha1:" + c2, "2"},
		{"semver", Reference{SemVer: "<2.0.0"}, nil, "v1.1.0@sha1:" + c2, "2"},
		{"name", Reference{Name: "refs/pull/1/head"}, nil, "refs/pull/1/head@sha1:" + pr, "pr"},
		{"commit", Reference{Commit: c1}, nil, "sha1:" + c1, "1"},
		{"commit on branch", Reference{Branch: "master", Commit: c2}, nil, "master@sha1:" + c2, "2"},
		{"sparse", Reference{Tag: "v1.0.0"}, []string{"apps"}, "v1.0.0@sha1:" + c1, ""},
	}
	for _, c := range clones {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				co, err := c.clone(t.Context(), dir, Options{URL: url, Reference: tt.ref, SparseCheckout: tt.sparse})
				if err != nil {
					t.Fatal(err)
				}
				if co.Revision.String() != tt.wantRev {
					t.Fatalf("revision %s, want %s", co.Revision, tt.wantRev)
				}
				if _, err := os.Stat(filepath.Join(dir, ".git")); (err == nil) != (c.name == "disk") {
					t.Fatalf(".git in the checkout: %v", err)
				}
				if tt.sparse != nil {
					if _, err := os.Stat(filepath.Join(dir, "infra/i.yaml")); !os.IsNotExist(err) {
						t.Fatalf("infra/i.yaml checked out despite sparse checkout: %v", err)
					}
					if got := readFile(t, filepath.Join(dir, "apps/a.yaml")); got != "a" {
						t.Fatalf("apps/a.yaml = %q", got)
					}
					return
				}
				if got := readFile(t, filepath.Join(dir, "v")); got != tt.wantV {
					t.Fatalf("v = %q, want %q", got, tt.wantV)
				}
			})
		}
	}

	links := repo.Commit("links", "links", map[string]string{
		"target.yaml": "x",
		"in":          gitserver.Symlink("target.yaml"),
		"out":         gitserver.Symlink("../../etc/passwd"),
	})
	for _, c := range clones {
		t.Run(c.name+"/unknown commit", func(t *testing.T) {
			_, err := c.clone(t.Context(), t.TempDir(), Options{URL: url, Reference: Reference{Commit: strings.Repeat("ab", 20)}})
			if !errors.Is(err, ErrReferenceNotFound) {
				t.Fatalf("error = %v, want ErrReferenceNotFound", err)
			}
		})
		t.Run(c.name+"/unknown branch", func(t *testing.T) {
			_, err := c.clone(t.Context(), t.TempDir(), Options{URL: url, Reference: Reference{Branch: "nope"}})
			if !errors.Is(err, ErrReferenceNotFound) {
				t.Fatalf("error = %v, want ErrReferenceNotFound", err)
			}
		})
		t.Run(c.name+"/symlinks kept as links", func(t *testing.T) {
			dir := t.TempDir()
			co, err := c.clone(t.Context(), dir, Options{URL: url, Reference: Reference{Branch: "links"}})
			if err != nil {
				t.Fatal(err)
			}
			if co.Revision.Hash != links {
				t.Fatalf("hash %s, want %s", co.Revision.Hash, links)
			}
			if target, err := os.Readlink(filepath.Join(dir, "out")); err != nil || target != "../../etc/passwd" {
				t.Fatalf("out: link %q, %v", target, err)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := LatestRevision(ctx, Options{URL: url}); err == nil {
			t.Fatal("LatestRevision with a cancelled context succeeded")
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
