package git

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL checks ParseURL over any spec.url: never a panic, an ErrInvalidURL refusal or a
// URL with an http, https or ssh scheme and a host, and an error that never repeats the
// password of the URL's userinfo.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"https://github.com/org/repo", "ssh://git@github.com/org/repo.git", "git@github.com:org/repo",
		"https://user:s3cretpassw0rd@host/repo", "ftp://host/repo", "https:///repo", " http://[::1]:8080/r ",
		"https://user:pa%zzss@host/", "file:///tmp/repo", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("ParseURL(%q) = %v, want ErrInvalidURL", raw, err)
			}
			if pu, perr := url.Parse(strings.TrimSpace(raw)); perr == nil && pu.User != nil {
				if pw, ok := pu.User.Password(); ok && len(pw) >= 8 && strings.Count(raw, pw) == 1 && strings.Contains(err.Error(), pw) {
					t.Fatalf("ParseURL(%q) error %q shows the password", raw, err)
				}
			}
			return
		}
		switch u.Scheme {
		case "http", "https", "ssh":
		default:
			t.Fatalf("ParseURL(%q) accepted scheme %q", raw, u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatalf("ParseURL(%q) accepted a URL without a host", raw)
		}
	})
}

// FuzzReference checks a GitRepository's spec.ref fields and the revision strings built from
// them: validating never panics, accepts a commit only as 40 lower-case hex digits and a name
// only as a full "refs/..." reference without "..", and String and Revision.String never
// panic and name what is checked out.
func FuzzReference(f *testing.F) {
	f.Add("main", "", "", "", "")
	f.Add("main", "v1.0.0", ">=1.0.0 <2.0.0", "refs/pull/1/head", "0123456789abcdef0123456789abcdef01234567")
	f.Add("", "", "", "refs/heads/../../x", "")
	f.Add("", "", "", "", "0123456789ABCDEF0123456789abcdef01234567")
	f.Add("", "", "~1.2", "", "")
	f.Fuzz(func(t *testing.T, branch, tag, semver, name, commit string) {
		r := Reference{Branch: branch, Tag: tag, SemVer: semver, Name: name, Commit: commit}
		desc := r.String()
		err := r.validate()
		if err != nil && !errors.Is(err, ErrReferenceNotFound) {
			t.Fatalf("validate(%+v) = %v, want ErrReferenceNotFound", r, err)
		}
		switch r.kind() {
		case kindCommit:
			if !strings.Contains(desc, commit) {
				t.Fatalf("String() = %q does not name commit %q", desc, commit)
			}
			if err == nil && (len(commit) != 40 || strings.Trim(commit, "0123456789abcdef") != "") {
				t.Fatalf("validate accepted commit %q", commit)
			}
		case kindName:
			if err == nil && (!strings.HasPrefix(name, "refs/") || strings.Contains(name, "..")) {
				t.Fatalf("validate accepted ref name %q", name)
			}
		}
		rev := Revision{Name: name, Ref: name, Hash: commit}.String()
		if !strings.HasSuffix(rev, "sha1:"+commit) {
			t.Fatalf("Revision.String() = %q, want the commit last", rev)
		}
	})
}
