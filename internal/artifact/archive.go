package artifact

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/weirgitops/weir/internal/faultpoint"
)

// Filter reports whether a path of the tree (slash separated, relative to
// the tree's root) is left out of an archive. A left-out directory is not
// descended into.
type Filter func(rel string, isDir bool) bool

// Archive writes the tree at srcDir as the gzip tar file for obj, records
// revision, and notifies subscribers. ".git" directories are always left
// out, and so is whatever filter (which may be nil) excludes. Symlinks are
// never followed: see the package documentation for which are kept. When the
// regular files add up to more than Options.MaxSize, nothing is stored and
// the error wraps ErrTooLarge.
func (s *Store) Archive(ctx context.Context, obj Object, file, revision, srcDir string, filter Filter) (Record, error) {
	return s.write(obj, file, revision, func(w io.Writer) error {
		return writeTarGz(ctx, w, srcDir, filter, s.maxSize)
	})
}

// Put stores the content of r, unchanged, as the file for obj (an OCI layer copied as it is),
// records revision, and notifies subscribers. More than Options.MaxSize bytes (when set) store
// nothing and give ErrTooLarge.
func (s *Store) Put(ctx context.Context, obj Object, file, revision string, r io.Reader) (Record, error) {
	return s.write(obj, file, revision, func(w io.Writer) error {
		src := r
		if s.maxSize > 0 {
			src = io.LimitReader(r, s.maxSize+1)
		}
		n, err := io.Copy(w, contextReader{ctx, src})
		if err == nil && s.maxSize > 0 && n > s.maxSize {
			err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.maxSize)
		}
		return err
	})
}

// contextReader stops a copy when its context ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// write stores what fill writes as the file for obj: into a hidden temporary file first,
// renamed into place once complete, so readers never see a partial artifact.
func (s *Store) write(obj Object, file, revision string, fill func(io.Writer) error) (Record, error) {
	rel, err := s.Path(obj, file)
	if err != nil {
		return Record{}, err
	}
	dst, err := s.localPath(rel)
	if err != nil {
		return Record{}, err
	}
	unlock := s.lock(obj)
	defer unlock()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Record{}, fmt.Errorf("archive %s: %w", rel, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+file+".tmp-*")
	if err != nil {
		return Record{}, fmt.Errorf("archive %s: %w", rel, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after the rename

	h := sha256.New()
	cw := &countWriter{}
	werr := fill(io.MultiWriter(tmp, h, cw))
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	now := s.now()
	if werr == nil {
		// GC orders files by modification time from the store's clock.
		werr = os.Chtimes(tmp.Name(), now, now)
	}
	if werr == nil {
		faultpoint.Hit(faultpoint.ArtifactWriting)
		werr = os.Rename(tmp.Name(), dst)
	}
	if werr != nil {
		return Record{}, fmt.Errorf("archive %s: %w", rel, werr)
	}
	rec := Record{
		Path:           rel,
		URL:            s.URL(rel),
		Revision:       revision,
		Digest:         digestString(h),
		Size:           cw.n,
		LastUpdateTime: now,
	}
	s.publish(Event{Object: obj, Revision: revision, Record: rec})
	return rec, nil
}

// gzipWriters reuses compressors: each holds about 800 KB of tables, which a fresh writer per
// archive would allocate again for every source revision.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

func digestString(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// epoch is the modification time of every entry, for reproducible digests.
var epoch = time.Unix(0, 0).UTC()

func writeTarGz(ctx context.Context, w io.Writer, srcDir string, filter Filter, maxSize int64) error {
	realRoot, err := filepath.EvalSymlinks(srcDir)
	if err != nil {
		return err
	}
	gw := gzipWriters.Get().(*gzip.Writer)
	gw.Reset(w)
	defer gzipWriters.Put(gw)
	tw := tar.NewWriter(gw)
	var total int64
	err = filepath.WalkDir(realRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == realRoot {
			return nil
		}
		relOS, err := filepath.Rel(realRoot, p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(relOS)
		isDir := d.IsDir()
		if isDir && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if filter != nil && filter(rel, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		hdr := &tar.Header{Name: rel, ModTime: epoch, Format: tar.FormatPAX}
		switch t := d.Type(); {
		case isDir:
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, rel+"/", 0o755
			return tw.WriteHeader(hdr)
		case t&fs.ModeSymlink != 0:
			target, ok := keptSymlink(realRoot, p, rel)
			if !ok {
				return nil
			}
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
			return tw.WriteHeader(hdr)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
			if maxSize > 0 && total > maxSize {
				return fmt.Errorf("%w: content exceeds %d bytes", ErrTooLarge, maxSize)
			}
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, info.Size(), 0o644
			if info.Mode()&0o111 != 0 {
				hdr.Mode = 0o755
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			return copyFile(tw, p, info.Size())
		default:
			return nil // devices, sockets, pipes
		}
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gw.Close()
}

// keptSymlink returns the link's target when the link is kept: a relative
// target that resolves, both lexically and on disk, inside the tree.
func keptSymlink(realRoot, p, rel string) (string, bool) {
	target, err := os.Readlink(p)
	if err != nil || target == "" || filepath.IsAbs(target) {
		return "", false
	}
	slashTarget := filepath.ToSlash(target)
	if !within(path.Join(path.Dir(rel), slashTarget)) {
		return "", false
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false // dangling
	}
	if r, err := filepath.Rel(realRoot, resolved); err != nil || !within(filepath.ToSlash(r)) {
		return "", false
	}
	return slashTarget, true
}

// within reports whether a cleaned slash path relative to a root stays
// inside it.
func within(rel string) bool {
	rel = path.Clean(rel)
	return rel != ".." && !strings.HasPrefix(rel, "../") && !path.IsAbs(rel)
}

func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed size while archiving", filepath.Base(p))
	}
	return nil
}

// Clone stores a copy of another stored artifact, src, as the file for obj, after checking that
// src still has its recorded digest: two sources with the same content share one fetch.
func (s *Store) Clone(ctx context.Context, obj Object, file, revision string, src Record) (Record, error) {
	p, err := s.localPath(src.Path)
	if err != nil {
		return Record{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return Record{}, fmt.Errorf("clone %s: %w", src.Path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Record{}, fmt.Errorf("clone %s: %w", src.Path, err)
	}
	if got := digestString(h); got != src.Digest {
		return Record{}, fmt.Errorf("clone %s: %w", src.Path, ErrDigestMismatch)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Record{}, fmt.Errorf("clone %s: %w", src.Path, err)
	}
	return s.Put(ctx, obj, file, revision, f)
}

// WriteTarGz writes the tree at srcDir to w as Archive does (same order, headers, symlink and
// filter rules), without storing it: the CLI builds pushed artifacts with it, so what weir pushes
// and what its store serves are made alike.
func WriteTarGz(ctx context.Context, w io.Writer, srcDir string, filter Filter, maxSize int64) error {
	return writeTarGz(ctx, w, srcDir, filter, maxSize)
}
