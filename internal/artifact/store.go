package artifact

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

var (
	// ErrTooLarge means an archive or extraction went over a size or entry
	// limit.
	ErrTooLarge = errors.New("artifact too large")
	// ErrUnsafePath means an archive entry would escape its destination or
	// is otherwise not allowed (absolute path, "..", hard link, device).
	ErrUnsafePath = errors.New("unsafe path in artifact")
	// ErrDigestMismatch means a stored file no longer has its recorded digest.
	ErrDigestMismatch = errors.New("artifact digest mismatch")
	// ErrInvalidObject means a kind, namespace, name or file name cannot be
	// used as a path segment.
	ErrInvalidObject = errors.New("invalid artifact object")
)

// Defaults from Flux's source-controller.
const (
	DefaultRetentionRecords = 2
	DefaultRetentionTTL     = 60 * time.Second
)

// Options configures a Store.
type Options struct {
	// Root is the storage directory; it is created if missing.
	Root string
	// AdvertisedAddr is the host[:port] put in artifact URLs.
	AdvertisedAddr string
	// MaxSize bounds the uncompressed content of one archive in bytes;
	// zero means no limit.
	MaxSize int64
	// RetentionRecords is how many artifacts per object GC keeps, the
	// current one included (default 2).
	RetentionRecords int
	// RetentionTTL is how long a non-current artifact may live (default 60s).
	RetentionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store is an artifact store rooted at a directory. It is safe for
// concurrent use.
type Store struct {
	root    string
	advAddr string
	maxSize int64
	records int
	ttl     time.Duration
	now     func() time.Time

	locksMu sync.Mutex
	locks   map[string]*objectLock

	bus
}

// New creates the root directory if needed and returns a Store.
func New(opts Options) (*Store, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("artifact store: root is required")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	s := &Store{
		root:    root,
		advAddr: opts.AdvertisedAddr,
		maxSize: opts.MaxSize,
		records: opts.RetentionRecords,
		ttl:     opts.RetentionTTL,
		now:     opts.Now,
		locks:   map[string]*objectLock{},
	}
	if s.records <= 0 {
		s.records = DefaultRetentionRecords
	}
	if s.ttl <= 0 {
		s.ttl = DefaultRetentionTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := removeTemporary(root); err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	return s, nil
}

// removeTemporary deletes the temporary files (".<file>.tmp-*") that a process killed while
// writing an artifact left under root: a store has one process, so none is being written yet.
func removeTemporary(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// Root returns the store's absolute root directory.
func (s *Store) Root() string { return s.root }

// Object identifies the owner of artifacts.
type Object struct {
	Kind, Namespace, Name string
}

// String returns "kind/namespace/name".
func (o Object) String() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }

var segment = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,252}[A-Za-z0-9_])?$`)

// fileSegment also allows "+", which chart versions' build metadata brings into file names
// (podinfo-6.1.0+1.tgz).
var fileSegment = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._+-]{0,252}[A-Za-z0-9_])?$`)

// dir returns the object's slash-separated directory relative to the root.
func (o Object) dir() (string, error) {
	for _, s := range []string{o.Kind, o.Namespace, o.Name} {
		if !segment.MatchString(s) || strings.Contains(s, "..") {
			return "", fmt.Errorf("%w: %q", ErrInvalidObject, o.String())
		}
	}
	return path.Join(strings.ToLower(o.Kind), o.Namespace, o.Name), nil
}

// Record describes a stored artifact, with the fields of Flux's
// status.artifact.
type Record struct {
	// Path is relative to the store root, slash separated.
	Path string
	// URL is where the HTTP server serves the file.
	URL string
	// Revision is the source revision the artifact was built from.
	Revision string
	// Digest is "sha256:<hex>" of the file.
	Digest string
	// Size is the file size in bytes.
	Size int64
	// LastUpdateTime is when the file was written.
	LastUpdateTime time.Time
}

// Path returns the store-relative path of file for obj.
func (s *Store) Path(obj Object, file string) (string, error) {
	dir, err := obj.dir()
	if err != nil {
		return "", err
	}
	if !fileSegment.MatchString(file) || strings.Contains(file, "..") {
		return "", fmt.Errorf("%w: file name %q", ErrInvalidObject, file)
	}
	return path.Join(dir, file), nil
}

// URL returns the advertised URL of a store-relative path.
func (s *Store) URL(rel string) string {
	return "http://" + s.advAddr + "/" + rel
}

// localPath converts a store-relative path to an absolute one, refusing
// anything that leaves the root.
func (s *Store) localPath(rel string) (string, error) {
	clean := path.Clean("/" + rel)
	if clean == "/" || clean != "/"+rel {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, rel)
	}
	return filepath.Join(s.root, filepath.FromSlash(clean)), nil
}

type objectLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the object's lock and returns its release function. Archive,
// GC and Delete hold it while they touch the object's directory.
func (s *Store) lock(obj Object) (unlock func()) {
	key := obj.String()
	s.locksMu.Lock()
	l := s.locks[key]
	if l == nil {
		l = &objectLock{}
		s.locks[key] = l
	}
	l.refs++
	s.locksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.locksMu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.locks, key)
		}
		s.locksMu.Unlock()
	}
}
