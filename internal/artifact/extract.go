package artifact

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Default extraction limits.
const (
	DefaultMaxExtractSize    = 1 << 30 // 1 GiB of file content
	DefaultMaxExtractEntries = 200_000
)

// Limits bounds an extraction. Zero fields take the defaults.
type Limits struct {
	// MaxSize is the total size of regular files in bytes.
	MaxSize int64
	// MaxEntries is the number of archive entries.
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxExtractSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxExtractEntries
	}
	return l
}

// Extract verifies rec's digest and unpacks it into dir, which must be empty
// or absent. A file whose digest is not rec's is removed from the store, so that its source
// stores it again. See ExtractTarGz for what is refused.
func (s *Store) Extract(ctx context.Context, rec Record, dir string, limits Limits) error {
	p, err := s.localPath(rec.Path)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("extract %s: %w", rec.Path, err)
	}
	defer f.Close()
	// Hash and unpack the same open file, so a concurrent rename cannot
	// swap the content between the check and the use.
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("extract %s: %w", rec.Path, err)
	}
	if got := digestString(h); got != rec.Digest {
		// The file can never be what its record says: remove it (unless a writer replaced it
		// meanwhile), so that its source finds its artifact missing and fetches it again.
		if have, err := f.Stat(); err == nil {
			if now, err := os.Stat(p); err == nil && os.SameFile(have, now) {
				_ = os.Remove(p)
			}
		}
		return fmt.Errorf("extract %s: %w: have %s, want %s", rec.Path, ErrDigestMismatch, got, rec.Digest)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("extract %s: %w", rec.Path, err)
	}
	if err := ExtractTarGz(ctx, f, dir, limits); err != nil {
		return fmt.Errorf("extract %s: %w", rec.Path, err)
	}
	return nil
}

// ExtractTarGz unpacks a gzip tar stream into dir, which must be empty or
// absent. It refuses (with ErrUnsafePath) absolute names, ".." components,
// hard links, devices, symlinks with absolute targets or targets resolving
// outside dir, dangling symlinks, and anything below a symlink; symlinks are
// created after every other entry so nothing is ever written through one.
// It stops with ErrTooLarge beyond limits. On error dir may hold a partial
// tree, but nothing outside dir is ever created or changed.
func ExtractTarGz(ctx context.Context, r io.Reader, dir string, limits Limits) error {
	limits = limits.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("extract into %s: directory is not empty", dir)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("read gzip: %w", err)
	}
	defer gz.Close() //nolint:errcheck // read side; the data was already checked
	tr := tar.NewReader(gz)

	type link struct{ rel, target string }
	var (
		links []link
		total int64
		count int
	)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if count++; count > limits.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, limits.MaxEntries)
		}
		rel, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			continue
		}
		target := filepath.Join(root, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := mkdirAllNoFollow(root, rel); err != nil {
				return err
			}
		case tar.TypeReg:
			if hdr.Size < 0 {
				return fmt.Errorf("%w: negative size for %q", ErrUnsafePath, rel)
			}
			if total += hdr.Size; total > limits.MaxSize {
				return fmt.Errorf("%w: content exceeds %d bytes", ErrTooLarge, limits.MaxSize)
			}
			if err := mkdirAllNoFollow(root, path.Dir(rel)); err != nil {
				return err
			}
			if err := writeFile(target, tr, hdr.Size, fs.FileMode(hdr.Mode)); err != nil {
				return err
			}
		case tar.TypeSymlink:
			t := hdr.Linkname
			if t == "" || strings.ContainsRune(t, 0) || path.IsAbs(t) || filepath.IsAbs(t) ||
				!within(path.Join(path.Dir(rel), t)) {
				return fmt.Errorf("%w: symlink %q points outside the tree", ErrUnsafePath, rel)
			}
			links = append(links, link{rel, t})
		case tar.TypeXGlobalHeader:
			continue
		default:
			return fmt.Errorf("%w: entry %q has unsupported type %q", ErrUnsafePath, rel, hdr.Typeflag)
		}
	}
	var made []string
	for _, l := range links {
		if err := mkdirAllNoFollow(root, path.Dir(l.rel)); err != nil {
			return err
		}
		p := filepath.Join(root, filepath.FromSlash(l.rel))
		if err := os.Symlink(filepath.FromSlash(l.target), p); err != nil {
			return fmt.Errorf("%w: symlink %q: %w", ErrUnsafePath, l.rel, err)
		}
		made = append(made, p)
	}
	return confineLinks(root, made)
}

// confineLinks checks, once every link exists, that each resolves inside
// root; chains of links can escape where each link alone looks confined.
// Offending links are removed.
func confineLinks(root string, links []string) error {
	var bad error
	for _, p := range links {
		resolved, err := filepath.EvalSymlinks(p)
		ok := err == nil
		if ok {
			r, err := filepath.Rel(root, resolved)
			ok = err == nil && within(filepath.ToSlash(r))
		}
		if !ok {
			_ = os.Remove(p)
			if bad == nil {
				bad = fmt.Errorf("%w: symlink %q resolves outside the tree or nowhere", ErrUnsafePath, filepath.Base(p))
			}
		}
	}
	return bad
}

// entryName validates and cleans a tar entry name.
func entryName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) || path.IsAbs(name) || filepath.IsAbs(name) {
		return "", fmt.Errorf("%w: entry name %q", ErrUnsafePath, name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: entry name %q", ErrUnsafePath, name)
		}
	}
	return path.Clean(name), nil
}

// mkdirAllNoFollow creates root/rel one component at a time, refusing to
// pass through anything that is not a real directory.
func mkdirAllNoFollow(root, rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	cur := root
	for _, seg := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, seg)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case !fi.IsDir():
			return fmt.Errorf("%w: %q is not a directory", ErrUnsafePath, rel)
		}
	}
	return nil
}

// writeFile creates a new file (never through a symlink, never over an
// existing file) with size bytes from r.
func writeFile(p string, r io.Reader, size int64, mode fs.FileMode) error {
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, perm)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnsafePath, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("read tar: %s truncated", filepath.Base(p))
	}
	return nil
}
