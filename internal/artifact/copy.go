package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CopyInto copies the files under fromPath of the artifact rec into toPath of
// the tree at dst, for GitRepository spec.include. Both paths are relative
// ("" or "." meaning the root) and must stay inside their trees. Existing
// files are overwritten, others kept. Symlinks are copied only when their
// target stays inside the copied subtree; others are left out.
func (s *Store) CopyInto(ctx context.Context, rec Record, fromPath, dst, toPath string, limits Limits) error {
	from, err := cleanRel(fromPath)
	if err != nil {
		return err
	}
	to, err := cleanRel(toPath)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "weir-include-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := s.Extract(ctx, rec, tmp, limits); err != nil {
		return err
	}
	src := filepath.Join(tmp, filepath.FromSlash(from))
	if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("include %s: path %q is not a directory in the artifact", rec.Path, from)
	}
	realDst, err := filepath.EvalSymlinks(dst)
	if err != nil {
		return err
	}
	if err := mkdirAllNoFollow(realDst, to); err != nil {
		return err
	}
	var links []string
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(r)
		target := filepath.Join(realDst, filepath.FromSlash(to), r)
		out := path.Join(to, rel)
		switch {
		case d.IsDir():
			return mkdirAllNoFollow(realDst, out)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil || filepath.IsAbs(link) || !within(path.Join(path.Dir(rel), filepath.ToSlash(link))) {
				return nil //nolint:nilerr // an unreadable or escaping link is left out, by policy
			}
			if err := replaceable(target); err != nil {
				return err
			}
			links = append(links, target)
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			if err := replaceable(target); err != nil {
				return err
			}
			return copyRegular(p, target)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("include %s: %w", rec.Path, err)
	}
	return confineLinks(realDst, links)
}

// replaceable removes a file or symlink at p so that a new one can be
// created without writing through a link; directories are refused.
func replaceable(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %s is a directory", ErrUnsafePath, filepath.Base(p))
	}
	return os.Remove(p)
}

func copyRegular(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func cleanRel(p string) (string, error) {
	p = strings.TrimPrefix(filepath.ToSlash(p), "./")
	if p == "" {
		return ".", nil
	}
	if path.IsAbs(p) || !within(p) {
		return "", fmt.Errorf("%w: path %q leaves the tree", ErrUnsafePath, p)
	}
	return path.Clean(p), nil
}
