package workspace

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/weirgitops/weir/internal/artifact"
)

// Workspaces unpacks each artifact once into a tree shared by every object that builds from
// it (Kustomizations, HelmReleases of a chart…), instead of once per object. Trees are
// reference counted and removed some time after their last user released them.
type Workspaces struct {
	store  *artifact.Store
	root   string
	linger time.Duration

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
	return &Workspaces{store: store, root: root, linger: 2 * time.Minute, entries: map[string]*workspace{}}, nil
}

// Acquire returns the directory holding the unpacked artifact and a release function; the
// tree must not be written to. Concurrent callers for the same artifact wait for one
// extraction.
func (w *Workspaces) Acquire(ctx context.Context, rec artifact.Record) (string, func(), error) {
	w.mu.Lock()
	w.sweepLocked(time.Now())
	e, ok := w.entries[rec.Digest]
	if !ok {
		e = &workspace{ready: make(chan struct{})}
		w.entries[rec.Digest] = e
		e.refs++
		w.mu.Unlock()
		e.dir, e.err = w.extract(ctx, rec)
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
