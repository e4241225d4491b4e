package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/redact"
)

// Workspaces unpacks each artifact once into a tree shared by every object that builds from
// it (Kustomizations, HelmReleases of a chart…), instead of once per object. Trees are
// reference counted and removed some time after their last user released them.
type Workspaces struct {
	store  *artifact.Store
	root   string
	linger time.Duration

	client *http.Client

	mu      sync.Mutex
	entries map[string]*workspace
}

type workspace struct {
	dir      string
	refs     int
	released time.Time
	ready    chan struct{}
	err      error
}

// New returns Workspaces that unpack artifacts of store into directories under root.
func New(store *artifact.Store, root string) (*Workspaces, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace root: %w", err)
	}
	return &Workspaces{store: store, root: root, linger: 2 * time.Minute, entries: map[string]*workspace{},
		client: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// Acquire returns the directory holding the unpacked artifact and a release function; the
// tree must not be written to. Concurrent callers for the same artifact wait for one
// extraction.
func (w *Workspaces) Acquire(ctx context.Context, rec artifact.Record) (string, func(), error) {
	return w.acquire(ctx, rec, w.extract)
}

// AcquireURL is Acquire for an artifact another server serves (an ExternalArtifact): it is
// downloaded from rec.URL, checked against rec.Digest and unpacked once.
func (w *Workspaces) AcquireURL(ctx context.Context, rec artifact.Record) (string, func(), error) {
	return w.acquire(ctx, rec, w.download)
}

func (w *Workspaces) acquire(ctx context.Context, rec artifact.Record, extract func(context.Context, artifact.Record) (string, error)) (string, func(), error) {
	w.mu.Lock()
	w.sweepLocked(time.Now())
	e, ok := w.entries[rec.Digest]
	if !ok {
		e = &workspace{ready: make(chan struct{})}
		w.entries[rec.Digest] = e
		e.refs++
		w.mu.Unlock()
		e.dir, e.err = extract(ctx, rec)
		close(e.ready)
		if e.err != nil {
			w.mu.Lock()
			delete(w.entries, rec.Digest)
			w.mu.Unlock()
			return "", nil, e.err
		}
		return e.dir, w.releaser(e), nil
	}
	e.refs++
	w.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		w.releaser(e)()
		return "", nil, ctx.Err()
	}
	if e.err != nil {
		w.releaser(e)()
		return "", nil, e.err
	}
	return e.dir, w.releaser(e), nil
}

func (w *Workspaces) extract(ctx context.Context, rec artifact.Record) (string, error) {
	dir, err := os.MkdirTemp(w.root, "artifact-")
	if err != nil {
		return "", fmt.Errorf("create workspace: %w", err)
	}
	if err := w.store.Extract(ctx, rec, dir, artifact.Limits{}); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("unpack artifact %s: %w", rec.Path, err)
	}
	return dir, nil
}

// download fetches rec from its URL into a workspace, within the extraction limits.
func (w *Workspaces) download(ctx context.Context, rec artifact.Record) (string, error) {
	algo, want, ok := strings.Cut(rec.Digest, ":")
	if !ok || algo != "sha256" || len(want) != 64 {
		return "", fmt.Errorf("artifact digest '%s' is not a sha256 digest", rec.Digest)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rec.URL, nil)
	if err != nil {
		return "", fmt.Errorf("artifact URL '%s': %w", redact.Text(rec.URL), err)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("failed to download artifact: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("failed to download artifact from '%s': status %s", redact.Text(rec.URL), resp.Status)
	}
	f, err := os.CreateTemp(w.root, ".download-")
	if err != nil {
		return "", fmt.Errorf("create download file: %w", err)
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return "", fmt.Errorf("failed to download artifact: %w", err)
	}
	if n > maxDownload {
		return "", fmt.Errorf("artifact at '%s' is larger than %d bytes: %w", redact.Text(rec.URL), maxDownload, artifact.ErrTooLarge)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return "", fmt.Errorf("failed to verify artifact: computed digest 'sha256:%s' does not match '%s': %w", got, rec.Digest, artifact.ErrDigestMismatch)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(w.root, "artifact-")
	if err != nil {
		return "", fmt.Errorf("create workspace: %w", err)
	}
	if err := artifact.ExtractTarGz(ctx, f, dir, artifact.Limits{}); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("unpack artifact from '%s': %w", redact.Text(rec.URL), err)
	}
	return dir, nil
}

// maxDownload bounds a downloaded artifact archive.
const maxDownload = artifact.DefaultMaxExtractSize

func (w *Workspaces) releaser(e *workspace) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			e.refs--
			if e.refs == 0 {
				e.released = time.Now()
			}
		})
	}
}

// sweepLocked removes trees nobody used for the linger time.
func (w *Workspaces) sweepLocked(now time.Time) {
	for digest, e := range w.entries {
		if e.refs == 0 && e.dir != "" && now.Sub(e.released) > w.linger {
			_ = os.RemoveAll(e.dir)
			delete(w.entries, digest)
		}
	}
}

// Close removes every tree.
func (w *Workspaces) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for digest, e := range w.entries {
		if e.dir != "" {
			_ = os.RemoveAll(e.dir)
		}
		delete(w.entries, digest)
	}
}
