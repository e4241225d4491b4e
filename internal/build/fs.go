package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ErrOutsideRoot is returned (wrapped) when a path, or a symlink on the way
// to it, resolves outside the artifact root.
var ErrOutsideRoot = errors.New("path is outside the artifact root")

// errReadOnly is returned by every write operation of the confined file system.
var errReadOnly = errors.New("read-only file system")

// confinedFS is a kustomize file system over the disk that refuses to read
// anything outside root, symlinks included, and never writes. It can overlay
// in-memory files (the generated kustomization.yaml) and transform file
// contents on read (SOPS decryption of generator sources).
type confinedFS struct {
	// root is absolute and free of symlinks.
	root string
	disk filesys.FileSystem
	// overlay maps absolute, resolved paths to in-memory contents.
	overlay map[string][]byte
	// onRead, when set, may replace the contents of a file read from disk.
	onRead func(path string, data []byte) ([]byte, error)
	// ignore, when set, hides files and directories (slash-separated, relative to root) from
	// a generated kustomization.
	ignore func(path string, dir bool) bool
	// allowTemp permits kustomize's remote-base clone directories made by this build: those
	// under the temporary directory named kustomize-* that are not in preexisting.
	allowTemp   bool
	preexisting map[string]struct{}
	// touched records every resolved path kustomize looked at, for Inputs.
	touched map[string]struct{}
}

// touch records that kustomize looked at the resolved path r.
func (c *confinedFS) touch(r string) {
	if c.touched != nil {
		c.touched[r] = struct{}{}
	}
}

var _ filesys.FileSystem = (*confinedFS)(nil)

// newConfinedFS returns a confined file system rooted at root, which must be
// an existing directory.
func newConfinedFS(root string) (*confinedFS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("artifact root %q: %w", root, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("artifact root %q: %w", root, err)
	}
	info, err := os.Stat(resolved)
	if err != nil {
		return nil, fmt.Errorf("artifact root %q: %w", root, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("artifact root %q is not a directory", root)
	}
	return &confinedFS{root: resolved, disk: filesys.MakeFsOnDisk(), overlay: map[string][]byte{}}, nil
}

// within reports whether p (absolute, clean) is root or below it.
func within(root, p string) bool {
	if p == root {
		return true
	}
	if root == string(filepath.Separator) {
		return true
	}
	return strings.HasPrefix(p, root+string(filepath.Separator))
}

// tempDir is the resolved temporary directory, where kustomize clones remote bases.
func tempDir() string {
	tmp, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		return os.TempDir()
	}
	return tmp
}

// cloneDirs lists the kustomize remote-base clone directories that exist now.
func cloneDirs() map[string]struct{} {
	out := map[string]struct{}{}
	entries, err := os.ReadDir(tempDir())
	if err != nil {
		return out
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "kustomize-") {
			out[e.Name()] = struct{}{}
		}
	}
	return out
}

// tempCloneDir reports whether p lies in a kustomize remote-base clone directory that this
// build made: another build's clone (another tenant's remote base) or any other directory
// named like one is outside the build's reach. Builds run one at a time (kustomizeMu), so a
// clone directory that appeared after the build started is the build's own.
func (c *confinedFS) tempCloneDir(p string) bool {
	if !c.allowTemp {
		return false
	}
	rel, err := filepath.Rel(tempDir(), p)
	if err != nil || !filepath.IsLocal(rel) {
		return false
	}
	first := strings.Split(rel, string(filepath.Separator))[0]
	if !strings.HasPrefix(first, "kustomize-") {
		return false
	}
	_, old := c.preexisting[first]
	return !old
}

// resolve makes p absolute (relative paths are taken from the root), resolves
// every symlink of its existing part and checks that the result is inside
// the root. It returns the resolved path.
func (c *confinedFS) resolve(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.root, p)
	}
	p = filepath.Clean(p)
	// Resolve the longest existing prefix, then append the rest.
	existing, rest := p, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.rel(p), err)
	}
	if rest != "" {
		resolved = filepath.Join(resolved, rest)
	}
	if within(c.root, resolved) || c.tempCloneDir(resolved) {
		return resolved, nil
	}
	return "", fmt.Errorf("%s: %w", c.rel(p), ErrOutsideRoot)
}

// rel renders p relative to the root for error messages.
func (c *confinedFS) rel(p string) string {
	if r, err := filepath.Rel(c.root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func (c *confinedFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (c *confinedFS) Mkdir(string) error                  { return errReadOnly }
func (c *confinedFS) MkdirAll(string) error               { return errReadOnly }
func (c *confinedFS) WriteFile(string, []byte) error      { return errReadOnly }

func (c *confinedFS) RemoveAll(p string) error {
	if c.tempCloneDir(filepath.Clean(p)) {
		return os.RemoveAll(p)
	}
	return errReadOnly
}

func (c *confinedFS) Open(p string) (filesys.File, error) {
	r, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	c.touch(r)
	if _, ok := c.overlay[r]; ok {
		return nil, fmt.Errorf("open %s: in-memory file", c.rel(r))
	}
	return c.disk.Open(r)
}

func (c *confinedFS) IsDir(p string) bool {
	r, err := c.resolve(p)
	if err != nil {
		return false
	}
	c.touch(r)
	if _, ok := c.overlay[r]; ok {
		return false
	}
	return c.disk.IsDir(r)
}

func (c *confinedFS) Exists(p string) bool {
	r, err := c.resolve(p)
	if err != nil {
		return false
	}
	c.touch(r)
	if _, ok := c.overlay[r]; ok {
		return true
	}
	return c.disk.Exists(r)
}

func (c *confinedFS) ReadDir(p string) ([]string, error) {
	r, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	c.touch(r)
	names, err := c.disk.ReadDir(r)
	if err != nil {
		return nil, err
	}
	for o := range c.overlay {
		if filepath.Dir(o) == r {
			base := filepath.Base(o)
			found := false
			for _, n := range names {
				if n == base {
					found = true
					break
				}
			}
			if !found {
				names = append(names, base)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

func (c *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	r, err := c.resolve(p)
	if err != nil {
		return "", "", err
	}
	if _, ok := c.overlay[r]; !ok && c.disk.IsDir(r) {
		return filesys.ConfirmedDir(r), "", nil
	}
	d := filepath.Dir(r)
	if !c.disk.IsDir(d) {
		return "", "", fmt.Errorf("%s: parent is not a directory", c.rel(r))
	}
	return filesys.ConfirmedDir(d), filepath.Base(r), nil
}

func (c *confinedFS) Glob(pattern string) ([]string, error) {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(c.root, pattern)
	}
	matches, err := c.disk.Glob(pattern)
	if err != nil {
		return nil, err
	}
	out := matches[:0]
	for _, m := range matches {
		if _, err := c.resolve(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

func (c *confinedFS) ReadFile(p string) ([]byte, error) {
	r, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	c.touch(r)
	data, ok := c.overlay[r]
	if ok {
		data = append([]byte(nil), data...)
	} else if data, err = c.disk.ReadFile(r); err != nil {
		return nil, err
	}
	if c.onRead != nil {
		return c.onRead(r, data)
	}
	return data, nil
}

// Walk walks the tree at p without following symlinks; symlinks are reported
// to walkFn like files, and reading them goes through the root check.
func (c *confinedFS) Walk(p string, walkFn filepath.WalkFunc) error {
	r, err := c.resolve(p)
	if err != nil {
		return err
	}
	return filepath.Walk(r, func(path string, info fs.FileInfo, err error) error {
		return walkFn(path, info, err)
	})
}
