package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newStore(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	if opts.AdvertisedAddr == "" {
		opts.AdvertisedAddr = "source-controller.flux-system.svc.cluster.local."
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeTree creates files (content) and symlinks (values prefixed "->").
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(v, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

var podinfo = Object{Kind: "GitRepository", Namespace: "flux-system", Name: "podinfo"}

func TestArchiveAndExtract(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "do not archive"})
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"apps/app.yaml":     "kind: Deployment\n",
		"apps/skip.png":     "binary",
		".git/config":       "[core]",
		"sub/.git/HEAD":     "ref",
		"link-in":           "->apps/app.yaml",
		"apps/link-dir":     "->..",
		"link-abs":          "->" + filepath.Join(outside, "secret"),
		"link-out":          "->../../../../../../../../etc/passwd",
		"link-dangling":     "->nope.yaml",
		"apps/link-via-dir": "->link-dir/link-abs",
	})
	s := newStore(t, Options{})
	filter := func(rel string, isDir bool) bool { return strings.HasSuffix(rel, ".png") }
	rec, err := s.Archive(t.Context(), podinfo, "abc123.tar.gz", "main@sha1:abc123", src, filter)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Path != "gitrepository/flux-system/podinfo/abc123.tar.gz" {
		t.Fatalf("path %q", rec.Path)
	}
	if rec.URL != "http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/podinfo/abc123.tar.gz" {
		t.Fatalf("url %q", rec.URL)
	}
	if !strings.HasPrefix(rec.Digest, "sha256:") || len(rec.Digest) != len("sha256:")+64 || rec.Size == 0 {
		t.Fatalf("digest %q size %d", rec.Digest, rec.Size)
	}
	fi, err := os.Stat(filepath.Join(s.Root(), rec.Path))
	if err != nil || fi.Size() != rec.Size {
		t.Fatalf("stored file: %v, size %v want %d", err, fi, rec.Size)
	}

	again, err := s.Archive(t.Context(), podinfo, "abc123-again.tar.gz", "x", src, filter)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != rec.Digest {
		t.Fatalf("archive is not reproducible: %s then %s", rec.Digest, again.Digest)
	}

	dst := filepath.Join(t.TempDir(), "out")
	if err := s.Extract(t.Context(), rec, dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	got := listTree(t, dst)
	want := []string{"apps/", "apps/app.yaml", "apps/link-dir -> ..", "link-in -> apps/app.yaml", "sub/"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("extracted tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "link-in")); string(b) != "kind: Deployment\n" {
		t.Fatalf("link-in reads %q", b)
	}
}

// listTree lists a tree as sorted lines: "dir/", "file", "link -> target".
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestArchiveMaxSize(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": strings.Repeat("x", 600), "b": strings.Repeat("y", 600)})
	s := newStore(t, Options{MaxSize: 1000})
	_, err := s.Archive(t.Context(), podinfo, "big.tar.gz", "r", src, nil)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Root(), "gitrepository/flux-system/podinfo"))
	if len(entries) != 0 {
		t.Fatalf("left files behind: %v", entries)
	}
}

func TestInvalidObject(t *testing.T) {
	s := newStore(t, Options{})
	src := t.TempDir()
	for _, obj := range []Object{
		{Kind: "GitRepository", Namespace: "..", Name: "x"},
		{Kind: "GitRepository", Namespace: "ns", Name: "a/b"},
		{Kind: "", Namespace: "ns", Name: "x"},
	} {
		if _, err := s.Archive(t.Context(), obj, "f.tar.gz", "r", src, nil); !errors.Is(err, ErrInvalidObject) {
			t.Errorf("Archive(%v) error = %v, want ErrInvalidObject", obj, err)
		}
	}
	if _, err := s.Archive(t.Context(), podinfo, "../x.tar.gz", "r", src, nil); !errors.Is(err, ErrInvalidObject) {
		t.Errorf("file ../x.tar.gz error = %v, want ErrInvalidObject", err)
	}
}

func TestGCAndDelete(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newStore(t, Options{Now: clock})
	src := t.TempDir()
	writeTree(t, src, map[string]string{"f": "x"})
	var recs []Record
	for _, name := range []string{"1.tar.gz", "2.tar.gz", "3.tar.gz"} {
		rec, err := s.Archive(t.Context(), podinfo, name, name, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		advance(10 * time.Second)
	}
	removed, err := s.GC(t.Context(), podinfo, recs[2].Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != recs[0].Path {
		t.Fatalf("removed %v, want only %s (keep 2 records)", removed, recs[0].Path)
	}
	advance(2 * time.Minute)
	removed, err = s.GC(t.Context(), podinfo, recs[2].Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != recs[1].Path {
		t.Fatalf("removed %v, want %s (past the TTL)", removed, recs[1].Path)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), recs[2].Path)); err != nil {
		t.Fatalf("current artifact removed: %v", err)
	}
	if err := s.Delete(t.Context(), podinfo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "gitrepository/flux-system/podinfo")); !os.IsNotExist(err) {
		t.Fatalf("object directory still exists: %v", err)
	}
	if err := s.Delete(t.Context(), podinfo); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

func TestHandler(t *testing.T) {
	s := newStore(t, Options{})
	src := t.TempDir()
	writeTree(t, src, map[string]string{"f": "x"})
	rec, err := s.Archive(t.Context(), podinfo, "abc.tar.gz", "r", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s"})
	writeTree(t, s.Root(), map[string]string{
		"escape":      "->" + filepath.Join(outside, "secret"),
		"escape-rel":  "->../" + filepath.Base(outside) + "/secret",
		".hidden":     "h",
		"ok-link":     "->" + rec.Path,
		"ns/.tmp-x/f": "t",
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name string
		path string
		want int
	}{
		{"artifact", "/" + rec.Path, http.StatusOK},
		{"in-root symlink", "/ok-link", http.StatusOK},
		{"missing", "/gitrepository/flux-system/podinfo/nope.tar.gz", http.StatusNotFound},
		{"directory", "/gitrepository/flux-system/podinfo", http.StatusNotFound},
		{"root", "/", http.StatusNotFound},
		{"dot dot", "/gitrepository/../../../etc/passwd", http.StatusNotFound},
		{"escaped dot dot", "/gitrepository/%2e%2e/%2e%2e/etc/passwd", http.StatusNotFound},
		{"absolute symlink escape", "/escape", http.StatusNotFound},
		{"relative symlink escape", "/escape-rel", http.StatusNotFound},
		{"hidden", "/.hidden", http.StatusNotFound},
		{"hidden dir", "/ns/.tmp-x/f", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tt.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusOK && int64(len(body)) != rec.Size {
				t.Fatalf("body %d bytes, want %d", len(body), rec.Size)
			}
		})
	}
}

func TestSubscribe(t *testing.T) {
	s := newStore(t, Options{})
	src := t.TempDir()
	writeTree(t, src, map[string]string{"f": "x"})
	events := make(chan Event, 10)
	cancel := s.Subscribe(func(ev Event) { events <- ev })
	defer cancel()

	// A subscriber that never returns must not block Archive.
	block := make(chan struct{})
	defer close(block)
	cancelSlow := s.Subscribe(func(Event) { <-block })
	defer cancelSlow()

	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := s.Archive(t.Context(), podinfo, "r.tar.gz", "rev"+string(rune('a'+i)), src, nil); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Archive blocked on a slow subscriber")
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Object != podinfo {
				t.Fatalf("event for %v", ev.Object)
			}
			if ev.Revision == "rev"+string(rune('a'+19)) {
				return // the latest revision always arrives
			}
		case <-deadline:
			t.Fatal("no event for the latest revision")
		}
	}
}

func TestCopyInto(t *testing.T) {
	s := newStore(t, Options{})
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"deploy/a.yaml":     "a",
		"deploy/sub/b.yaml": "b",
		"deploy/link":       "->a.yaml",
		"deploy/up":         "->../other.yaml",
		"other.yaml":        "o",
	})
	rec, err := s.Archive(t.Context(), podinfo, "inc.tar.gz", "r", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	writeTree(t, dst, map[string]string{"own.yaml": "mine", "included/a.yaml": "old"})
	if err := s.CopyInto(t.Context(), rec, "./deploy", dst, "included", Limits{}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(listTree(t, dst), "\n")
	want := strings.Join([]string{"included/", "included/a.yaml", "included/link -> a.yaml", "included/sub/", "included/sub/b.yaml", "own.yaml"}, "\n")
	if got != want {
		t.Fatalf("tree:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "included/a.yaml")); string(b) != "a" {
		t.Fatalf("included/a.yaml = %q, want overwritten", b)
	}
	for _, bad := range [][2]string{{"../x", "inc"}, {"deploy", "../x"}, {"/etc", "inc"}} {
		if err := s.CopyInto(t.Context(), rec, bad[0], dst, bad[1], Limits{}); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("CopyInto(%q, %q) error = %v, want ErrUnsafePath", bad[0], bad[1], err)
		}
	}
}

// tarEntry describes one entry of a hand-made archive.
type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

func makeTarGz(t testing.TB, entries []tarEntry) []byte {
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractTarGz(t *testing.T) {
	reg := func(name, body string) tarEntry { return tarEntry{name: name, typ: tar.TypeReg, body: body} }
	sym := func(name, link string) tarEntry { return tarEntry{name: name, link: link, typ: tar.TypeSymlink} }
	tests := []struct {
		name    string
		entries []tarEntry
		limits  Limits
		wantErr error
	}{
		{"ok", []tarEntry{{name: "d/", typ: tar.TypeDir}, reg("d/f", "x"), sym("l", "d/f")}, Limits{}, nil},
		{"absolute path", []tarEntry{reg("/etc/x", "x")}, Limits{}, ErrUnsafePath},
		{"dot dot", []tarEntry{reg("a/../../x", "x")}, Limits{}, ErrUnsafePath},
		{"absolute symlink", []tarEntry{sym("l", "/etc/passwd")}, Limits{}, ErrUnsafePath},
		{"relative symlink escape", []tarEntry{sym("d/l", "../../x")}, Limits{}, ErrUnsafePath},
		{"symlink chain escape", []tarEntry{{name: "d/", typ: tar.TypeDir}, sym("d/dot", ".."), reg("y", "y"), sym("c", "d/dot/../y")}, Limits{}, ErrUnsafePath},
		{"dangling symlink", []tarEntry{sym("l", "nope")}, Limits{}, ErrUnsafePath},
		{"write below symlink", []tarEntry{{name: "d/", typ: tar.TypeDir}, sym("l", "d"), reg("l/f", "x")}, Limits{}, ErrUnsafePath},
		{"file then dir", []tarEntry{reg("a", "x"), reg("a/b", "y")}, Limits{}, ErrUnsafePath},
		{"duplicate file", []tarEntry{reg("a", "x"), reg("a", "y")}, Limits{}, ErrUnsafePath},
		{"hard link", []tarEntry{reg("a", "x"), {name: "b", link: "a", typ: tar.TypeLink}}, Limits{}, ErrUnsafePath},
		{"device", []tarEntry{{name: "dev", typ: tar.TypeChar}}, Limits{}, ErrUnsafePath},
		{"too large", []tarEntry{reg("a", "12345"), reg("b", "67890")}, Limits{MaxSize: 8}, ErrTooLarge},
		{"too many entries", []tarEntry{reg("a", ""), reg("b", ""), reg("c", "")}, Limits{MaxEntries: 2}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "root")
			err := ExtractTarGz(t.Context(), bytes.NewReader(makeTarGz(t, tt.entries)), dir, tt.limits)
			if tt.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			assertConfined(t, parent, dir)
		})
	}

	t.Run("not empty", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"x": "x"})
		if err := ExtractTarGz(t.Context(), bytes.NewReader(makeTarGz(t, nil)), dir, Limits{}); err == nil {
			t.Fatal("extracted into a non-empty directory")
		}
	})
	t.Run("digest mismatch", func(t *testing.T) {
		s := newStore(t, Options{})
		src := t.TempDir()
		writeTree(t, src, map[string]string{"f": "x"})
		rec, err := s.Archive(t.Context(), podinfo, "d.tar.gz", "r", src, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec.Digest = "sha256:" + strings.Repeat("0", 64)
		dir := filepath.Join(t.TempDir(), "out")
		if err := s.Extract(t.Context(), rec, dir, Limits{}); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("error = %v, want ErrDigestMismatch", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("wrote %d entries from an unverified artifact", len(entries))
		}
		if _, err := os.Stat(filepath.Join(s.Root(), rec.Path)); !os.IsNotExist(err) {
			t.Fatalf("the file that does not match its record is still in the store: %v", err)
		}
	})
}

// assertConfined checks that parent holds nothing but dir, and that no
// symlink under dir resolves outside it.
func assertConfined(t testing.TB, parent, dir string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Join(parent, e.Name()) != dir {
			t.Fatalf("extraction created %s outside the root", e.Name())
		}
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return // root never created
	}
	_ = filepath.WalkDir(realDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink == 0 {
			return nil //nolint:nilerr // only symlinks matter here
		}
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatalf("dangling symlink %s left behind", p)
		}
		if rel, err := filepath.Rel(realDir, resolved); err != nil || !within(filepath.ToSlash(rel)) {
			t.Fatalf("symlink %s resolves outside the root to %s", p, resolved)
		}
		return nil
	})
}

func FuzzExtractTarGz(f *testing.F) {
	f.Add(makeTarGz(f, []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/f", typ: tar.TypeReg, body: "x"}, {name: "l", link: "d/f", typ: tar.TypeSymlink}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "../x", typ: tar.TypeReg, body: "x"}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/dot", link: "..", typ: tar.TypeSymlink}, {name: "c", link: "d/dot/../y", typ: tar.TypeSymlink}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "l", link: "/", typ: tar.TypeSymlink}, {name: "l/etc", typ: tar.TypeReg, body: "x"}}))
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "root")
		_ = ExtractTarGz(t.Context(), bytes.NewReader(data), dir, Limits{MaxSize: 1 << 20, MaxEntries: 1000})
		assertConfined(t, parent, dir)
	})
}

// TestNewRemovesTemporaryFiles: the temporary file of a write cut short by a crash is gone
// when the store opens again; artifacts and other files stay.
func TestNewRemovesTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "gitrepository", "flux-system", "podinfo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"abc.tar.gz", ".abc.tar.gz.tmp-123", ".keep"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != ".keep,abc.tar.gz" {
		t.Errorf("left %v, want the artifact and .keep", left)
	}
}
