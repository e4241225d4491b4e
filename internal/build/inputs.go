package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Inputs are the files a build depends on: the tree under its kustomization path and every
// path outside it that kustomize looked at (bases, components, patches, generator sources),
// relative to the artifact root. Two trees with equal Inputs digests build the same objects
// for the same Kustomization spec and variables.
type Inputs struct {
	// Path is the kustomization path the build ran on.
	Path string
	// Outside are the slash-separated paths outside Path the build looked at.
	Outside []string
}

// Clone returns a copy of in that shares nothing with it.
func (in Inputs) Clone() Inputs {
	return Inputs{Path: in.Path, Outside: slices.Clone(in.Outside)}
}

// record fills in from the paths the file system saw.
func (in *Inputs) record(c *confinedFS, path string) {
	in.Path = filepath.ToSlash(filepath.Clean(path))
	base := filepath.Join(c.root, filepath.Clean("/"+path))
	in.Outside = in.Outside[:0]
	for r := range c.touched {
		if r == base || strings.HasPrefix(r, base+string(filepath.Separator)) {
			continue
		}
		rel, err := filepath.Rel(c.root, r)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		in.Outside = append(in.Outside, filepath.ToSlash(rel))
	}
	sort.Strings(in.Outside)
}

// Digest hashes the inputs as found in the tree at root: every file under Path, and each
// outside path's contents (a directory's names, or its absence). Symlinks are hashed as
// their target text and never followed.
func (in *Inputs) Digest(root string) (string, error) {
	h := sha256.New()
	base := filepath.Join(root, filepath.Clean("/"+in.Path))
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		return hashPath(h, p, filepath.ToSlash(rel), d.Type())
	})
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("digest inputs under %s: %w", in.Path, err)
	}
	for _, rel := range in.Outside {
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			fmt.Fprintf(h, "%s\x00absent\x00", rel)
			continue
		}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return "", fmt.Errorf("digest input %s: %w", rel, err)
			}
			fmt.Fprintf(h, "%s\x00dir", rel)
			for _, e := range entries {
				fmt.Fprintf(h, "\x00%s", e.Name())
			}
			h.Write([]byte{0})
			continue
		}
		if err := hashPath(h, p, rel, fi.Mode().Type()); err != nil {
			return "", err
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashPath(h io.Writer, p, rel string, typ fs.FileMode) error {
	fmt.Fprintf(h, "%s\x00%o\x00", rel, typ)
	switch {
	case typ&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("digest input %s: %w", rel, err)
		}
		_, _ = io.WriteString(h, target)
	case typ.IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("digest input %s: %w", rel, err)
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("digest input %s: %w", rel, err)
		}
	}
	_, err := h.Write([]byte{0})
	return err
}
