package git

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr bool
	}{
		{"https", "https://github.com/org/repo", false},
		{"http with port", "http://127.0.0.1:8080/repo.git", false},
		{"ssh", "ssh://git@github.com/org/repo", false},
		{"ssh with port", "ssh://git@127.0.0.1:2222/repo", false},
		{"scp-like", "git@github.com:org/repo.git", true},
		{"scp-like without user", "github.com:org/repo.git", true},
		{"file scheme", "file:///tmp/repo", true},
		{"git scheme", "git://github.com/org/repo", true},
		{"no scheme", "github.com/org/repo", true},
		{"empty", "", true},
		{"no host", "https:///repo", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseURL(%q) error = %v, want error %v", tt.url, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("error %v does not wrap ErrInvalidURL", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:s3cret@host/repo", "https://***@host/repo"},
		{"https://ghp_token@host/repo", "https://***@host/repo"},
		{"ssh://git@host/repo", "ssh://***@host/repo"},
		{"ssh://git:pw@host/repo", "ssh://***@host/repo"},
		{"https://host/repo", "https://host/repo"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	_, err := ParseURL("ftp://user:s3cret@host/repo")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks password or is nil: %v", err)
	}
}

func TestRevisionString(t *testing.T) {
	const h = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name string
		rev  Revision
		want string
	}{
		{"branch", Revision{Name: "main", Ref: "refs/heads/main", Hash: h}, "main@sha1:" + h},
		{"tag", Revision{Name: "v1.2.0", Ref: "refs/tags/v1.2.0", Hash: h}, "v1.2.0@sha1:" + h},
		{"name", Revision{Name: "refs/pull/1/head", Ref: "refs/pull/1/head", Hash: h}, "refs/pull/1/head@sha1:" + h},
		{"commit", Revision{Hash: h}, "sha1:" + h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rev.String(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolvePrecedence(t *testing.T) {
	refs := remoteRefs{
		hashes: map[string]string{
			"refs/heads/master":   "m",
			"refs/heads/main":     "b",
			"refs/tags/v1.0.0":    "t1obj",
			"refs/tags/v1.2.0":    "t2",
			"refs/tags/v2.0.0":    "t3",
			"refs/tags/latest":    "x",
			"refs/pull/1/head":    "p",
			"refs/tags/1.1.0-rc1": "rc",
		},
		peeled: map[string]string{"refs/tags/v1.0.0": "t1"},
	}
	const c = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name    string
		ref     Reference
		want    string
		wantErr error
	}{
		{"default master", Reference{}, "master@sha1:m", nil},
		{"branch", Reference{Branch: "main"}, "main@sha1:b", nil},
		{"tag beats branch", Reference{Branch: "main", Tag: "v1.2.0"}, "v1.2.0@sha1:t2", nil},
		{"annotated tag peeled", Reference{Tag: "v1.0.0"}, "v1.0.0@sha1:t1", nil},
		{"semver beats tag", Reference{Tag: "v1.0.0", SemVer: "<2.0.0"}, "v1.2.0@sha1:t2", nil},
		{"semver highest", Reference{SemVer: ">=1.0.0"}, "v2.0.0@sha1:t3", nil},
		{"semver no prerelease", Reference{SemVer: "~1.1.0"}, "", ErrReferenceNotFound},
		{"name beats semver", Reference{SemVer: "*", Name: "refs/pull/1/head"}, "refs/pull/1/head@sha1:p", nil},
		{"commit beats all", Reference{Name: "refs/pull/1/head", Commit: c}, "sha1:" + c, nil},
		{"commit with branch", Reference{Branch: "main", Commit: c}, "main@sha1:" + c, nil},
		{"missing branch", Reference{Branch: "nope"}, "", ErrReferenceNotFound},
		{"missing tag", Reference{Tag: "v9"}, "", ErrReferenceNotFound},
		{"bad semver", Reference{SemVer: "not a range"}, "", ErrReferenceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev, err := resolve(tt.ref, refs)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rev.String() != tt.want {
				t.Fatalf("got %q, want %q", rev.String(), tt.want)
			}
		})
	}
}

func TestLatestRevision(t *testing.T) {
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("podinfo.git")
	c1 := repo.Commit("master", "init", map[string]string{"a.yaml": "a: 1\n"})
	c2 := repo.Commit("main", "main", map[string]string{"b.yaml": "b: 1\n"})
	repo.Tag("v1.0.0", c1)
	repo.AnnotatedTag("v1.2.0", c2, "release 1.2.0")
	repo.Tag("v1.10.0-rc.1", c2)
	repo.SetRef("refs/pull/1/head", c2)
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "user", Password: "s3cret-pass"})
	auth := Auth{Username: "user", Password: "s3cret-pass"}
	url := srv.RepoURL(repo.Name)

	tests := []struct {
		name    string
		ref     Reference
		want    string
		wantErr error
	}{
		{"default branch", Reference{}, "master@sha1:" + c1, nil},
		{"branch", Reference{Branch: "main"}, "main@sha1:" + c2, nil},
		{"lightweight tag", Reference{Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1, nil},
		{"annotated tag", Reference{Tag: "v1.2.0"}, "v1.2.0@sha1:" + c2, nil},
		{"semver", Reference{SemVer: "1.x"}, "v1.2.0@sha1:" + c2, nil},
		{"name", Reference{Name: "refs/pull/1/head"}, "refs/pull/1/head@sha1:" + c2, nil},
		{"commit", Reference{Commit: c1}, "sha1:" + c1, nil},
		{"missing branch", Reference{Branch: "nope"}, "", ErrReferenceNotFound},
		{"semver nothing", Reference{SemVer: ">=3"}, "", ErrReferenceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev, err := LatestRevision(t.Context(), Options{URL: url, Reference: tt.ref, Auth: auth})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rev.String() != tt.want {
				t.Fatalf("got %q, want %q", rev, tt.want)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		_, err := LatestRevision(t.Context(), Options{URL: url, Auth: Auth{Username: "user", Password: "wrong-password"}})
		if !errors.Is(err, ErrAuthentication) {
			t.Fatalf("error = %v, want ErrAuthentication", err)
		}
		if strings.Contains(err.Error(), "wrong-password") {
			t.Fatalf("error leaks the password: %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := LatestRevision(t.Context(), Options{URL: url})
		if !errors.Is(err, ErrAuthentication) {
			t.Fatalf("error = %v, want ErrAuthentication", err)
		}
	})
	t.Run("missing repository", func(t *testing.T) {
		_, err := LatestRevision(t.Context(), Options{URL: srv.RepoURL("nope.git"), Auth: auth})
		if err == nil || errors.Is(err, ErrAuthentication) {
			t.Fatalf("error = %v, want a non-auth failure", err)
		}
	})
	t.Run("one request per check", func(t *testing.T) {
		before := srv.Requests()
		if _, err := LatestRevision(t.Context(), Options{URL: url, Auth: auth}); err != nil {
			t.Fatal(err)
		}
		// go-git sends the request without credentials first only when it
		// has none; with basic auth one info/refs request is enough.
		if n := srv.Requests() - before; n != 1 {
			t.Fatalf("LatestRevision made %d HTTP requests, want 1", n)
		}
	})
}

// TestNewRevisions pushes commits and tags while polling, as a reconciler
// would, and waits for each to show up.
func TestNewRevisions(t *testing.T) {
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("app.git")
	c1 := repo.Commit("master", "one", map[string]string{"f": "1"})
	repo.Tag("v1.0.0", c1)
	srv := root.ServeHTTP(gitserver.HTTPOptions{BearerToken: "tok-123456"})
	branch := Options{URL: srv.RepoURL(repo.Name), Auth: Auth{BearerToken: "tok-123456"}}
	semverOpts := branch
	semverOpts.Reference = Reference{SemVer: ">=1.0.0"}

	waitFor(t, branch, "master@sha1:"+c1)
	waitFor(t, semverOpts, "v1.0.0@sha1:"+c1)

	c2 := repo.Commit("master", "two", map[string]string{"f": "2"})
	waitFor(t, branch, "master@sha1:"+c2)
	repo.Tag("v1.1.0", c2)
	repo.Tag("v0.9.0", c2)
	waitFor(t, semverOpts, "v1.1.0@sha1:"+c2)

	co, err := Clone(t.Context(), t.TempDir(), branch)
	if err != nil {
		t.Fatal(err)
	}
	if co.Revision.String() != "master@sha1:"+c2 {
		t.Fatalf("clone revision %s, want master@sha1:%s", co.Revision, c2)
	}
}

// waitFor polls LatestRevision until it returns want or a deadline passes.
func waitFor(t *testing.T, opts Options, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		rev, err := LatestRevision(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if last = rev.String(); last == want {
			return
		}
	}
	t.Fatalf("revision %s, want %s", last, want)
}
