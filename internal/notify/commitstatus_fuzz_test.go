package notify

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCommitHash checks commitHash over any event revision (events come from the event
// endpoint and carry whatever a controller, or anyone who can reach it, reported): never a
// panic, a permanent error or the 40 hex digits that end the revision.
func FuzzCommitHash(f *testing.F) {
	for _, s := range []string{
		"main@sha1:0123456789abcdef0123456789abcdef01234567", "sha1:0123456789ABCDEF0123456789abcdef01234567",
		"main/0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567",
		"v1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "", ":", "a/b:c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, revision string) {
		hash, err := commitHash(revision)
		if err != nil {
			var pe *PermanentError
			if !errors.As(err, &pe) {
				t.Fatalf("commitHash(%q) = %v, want a permanent error", revision, err)
			}
			return
		}
		if len(hash) != 40 || strings.Trim(hash, "0123456789abcdefABCDEF") != "" || !strings.HasSuffix(revision, hash) {
			t.Fatalf("commitHash(%q) = %q", revision, hash)
		}
	})
}

// FuzzGitRepoAddress checks parseGitRepoAddress and ownerRepo over any Provider address: never
// a panic, a permanent error or an http(s) base URL without userinfo and a path without a
// leading slash, whose owner and name, when it has them, are single non-empty segments.
func FuzzGitRepoAddress(f *testing.F) {
	for _, s := range []string{
		"https://github.com/org/repo", "https://github.com/org/repo.git", "git@github.com:org/repo.git",
		"ssh://git@gitlab.example.com:2222/group/sub/repo", "https://dev.azure.com/org/project/_git/repo",
		"ftp://host/org/repo", "https://user:token@github.com/org/repo", "github.com", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		r, err := parseGitRepoAddress(addr)
		if err != nil {
			var pe *PermanentError
			if !errors.As(err, &pe) {
				t.Fatalf("parseGitRepoAddress(%q) = %v, want a permanent error", addr, err)
			}
			return
		}
		if !strings.HasPrefix(r.base, "https://") && !strings.HasPrefix(r.base, "http://") || strings.Contains(r.base, "@") {
			t.Fatalf("parseGitRepoAddress(%q) base = %q", addr, r.base)
		}
		if strings.HasPrefix(r.path, "/") {
			t.Fatalf("parseGitRepoAddress(%q) path = %q", addr, r.path)
		}
		if owner, name, err := r.ownerRepo(); err == nil && (owner == "" || name == "" || strings.Contains(owner+name, "/")) {
			t.Fatalf("ownerRepo(%q) = %q, %q", r.path, owner, name)
		}
	})
}
