package bucket

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSafeKey checks SafeKey over any object key a bucket may list: never a panic, an
// ErrUnsafeKey refusal or a path that, joined to a download root, stays strictly inside it
// (a local, clean, slash-separated path without NUL or backslash).
func FuzzSafeKey(f *testing.F) {
	for _, k := range []string{
		"deploy/app.yaml", "a/./b//c.yaml", "../escape", "a/../../b", "/etc/passwd",
		"a\\..\\b", "x\x00y", ".", "a/..", "...", "a/...//b/",
	} {
		f.Add(k)
	}
	root := filepath.FromSlash("/var/lib/weir/bucket")
	f.Fuzz(func(t *testing.T, key string) {
		rel, err := SafeKey(key)
		if err != nil {
			if !errors.Is(err, ErrUnsafeKey) {
				t.Fatalf("SafeKey(%q) = %v, want ErrUnsafeKey", key, err)
			}
			return
		}
		if !filepath.IsLocal(rel) || strings.ContainsAny(rel, "\x00\\") || rel != filepath.ToSlash(filepath.Clean(rel)) {
			t.Fatalf("SafeKey(%q) = %q, not a clean local path", key, rel)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		r, err := filepath.Rel(root, p)
		if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			t.Fatalf("SafeKey(%q) = %q, which joined to %s is %s, outside it", key, rel, root, p)
		}
	})
}
