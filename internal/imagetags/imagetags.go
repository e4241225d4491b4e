package imagetags

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// DefaultMaxTags bounds the tags kept per repository.
const DefaultMaxTags = 100_000

// maxTagLength is the OCI distribution spec's limit on a tag.
const maxTagLength = 128

// fileName is the tags file of an object's directory.
const fileName = "tags.txt"

// ErrNotFound means no tags were ever stored for the object.
var ErrNotFound = errors.New("no tags stored")

// Store keeps the tags of every ImageRepository under Root.
type Store struct {
	root    string
	maxTags int

	mu    sync.Mutex
	cache map[types.NamespacedName]Tags
}

// Tags are the tags of one repository at one revision.
type Tags struct {
	// Revision is the sha256 (hex) of the sorted tags.
	Revision string
	// List is sorted.
	List []string
}

// New opens a store at root (created when absent); maxTags <= 0 means DefaultMaxTags.
func New(root string, maxTags int) (*Store, error) {
	if maxTags <= 0 {
		maxTags = DefaultMaxTags
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create tag store: %w", err)
	}
	return &Store{root: root, maxTags: maxTags, cache: map[types.NamespacedName]Tags{}}, nil
}

// MaxTags is the store's bound on tags per repository.
func (s *Store) MaxTags() int { return s.maxTags }

// Revision returns the revision of tags, in any order.
func Revision(tags []string) string {
	sorted := slices.Clone(tags)
	sort.Strings(sorted)
	return revisionSorted(sorted)
}

func revisionSorted(sorted []string) string {
	h := sha256.New()
	for _, t := range sorted {
		h.Write([]byte(t))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Set stores tags for key and returns their revision; tags that are the stored ones are not
// written again.
func (s *Store) Set(key types.NamespacedName, tags []string) (Tags, error) {
	if len(tags) > s.maxTags {
		return Tags{}, fmt.Errorf("%d tags exceed the store's limit of %d", len(tags), s.maxTags)
	}
	sorted := slices.Clone(tags)
	sort.Strings(sorted)
	sorted = slices.Compact(sorted)
	for _, t := range sorted {
		if t == "" || len(t) > maxTagLength || strings.ContainsAny(t, "\n\r") {
			return Tags{}, fmt.Errorf("invalid tag %q", truncate(t))
		}
	}
	rev := revisionSorted(sorted)
	if cur, err := s.Get(key); err == nil && cur.Revision == rev {
		return cur, nil
	}
	dir, err := s.dir(key)
	if err != nil {
		return Tags{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Tags{}, fmt.Errorf("write tags of %s: %w", key, err)
	}
	var buf bytes.Buffer
	for _, t := range sorted {
		buf.WriteString(t)
		buf.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(dir, "."+fileName+"-")
	if err != nil {
		return Tags{}, fmt.Errorf("write tags of %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		_ = tmp.Close()
		return Tags{}, fmt.Errorf("write tags of %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return Tags{}, fmt.Errorf("write tags of %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return Tags{}, fmt.Errorf("write tags of %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, fileName)); err != nil {
		return Tags{}, fmt.Errorf("write tags of %s: %w", key, err)
	}
	t := Tags{Revision: rev, List: sorted}
	s.mu.Lock()
	s.cache[key] = t
	s.mu.Unlock()
	return t, nil
}

// Get returns the tags stored for key, from memory or, after a restart, from disk. The list
// is shared: callers must not modify it.
func (s *Store) Get(key types.NamespacedName) (Tags, error) {
	s.mu.Lock()
	t, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	dir, err := s.dir(key)
	if err != nil {
		return Tags{}, err
	}
	f, err := os.Open(filepath.Join(dir, fileName))
	if errors.Is(err, fs.ErrNotExist) {
		return Tags{}, fmt.Errorf("%w for %s", ErrNotFound, key)
	}
	if err != nil {
		return Tags{}, fmt.Errorf("read tags of %s: %w", key, err)
	}
	defer f.Close()
	var list []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxTagLength+2)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			list = append(list, line)
		}
		if len(list) > s.maxTags {
			return Tags{}, fmt.Errorf("read tags of %s: more than %d tags", key, s.maxTags)
		}
	}
	if err := sc.Err(); err != nil {
		return Tags{}, fmt.Errorf("read tags of %s: %w", key, err)
	}
	sort.Strings(list)
	t = Tags{Revision: revisionSorted(list), List: list}
	s.mu.Lock()
	s.cache[key] = t
	s.mu.Unlock()
	return t, nil
}

// Delete forgets the tags of key, in memory and on disk.
func (s *Store) Delete(key types.NamespacedName) error {
	s.mu.Lock()
	delete(s.cache, key)
	s.mu.Unlock()
	dir, err := s.dir(key)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete tags of %s: %w", key, err)
	}
	return nil
}

// dir is the directory of key's files; Kubernetes names never hold '/' or "..", checked anyway.
func (s *Store) dir(key types.NamespacedName) (string, error) {
	for _, part := range []string{key.Namespace, key.Name} {
		if part == "" || part == "." || part == ".." || strings.ContainsAny(part, `/\`) {
			return "", fmt.Errorf("invalid object key %q", key.String())
		}
	}
	return filepath.Join(s.root, key.Namespace, key.Name), nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
