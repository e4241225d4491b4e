package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Digest returns "sha256:<hex>" over the build inputs: every regular file
// under root (path and contents, in lexical order, symlinks as their target
// text) and the JSON encoding of extra (the Kustomization spec, variables…).
// Equal digests mean Build would see equal inputs; it is meant as a cache key.
func Digest(ctx context.Context, root string, extra any) (string, error) {
	h := sha256.New()
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest %s: %w", root, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return "", fmt.Errorf("digest %s: %w", rel, err)
		}
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), info.Mode().Type())
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return "", fmt.Errorf("digest %s: %w", rel, err)
			}
			_, _ = io.WriteString(h, target)
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return "", fmt.Errorf("digest %s: %w", rel, err)
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("digest %s: %w", rel, err)
			}
		}
		h.Write([]byte{0})
	}
	if extra != nil {
		b, err := json.Marshal(extra)
		if err != nil {
			return "", fmt.Errorf("digest inputs: %w", err)
		}
		h.Write(b)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// ObjectsDigest returns "sha256:<hex>" over the JSON encoding of objs, in order: equal digests
// mean the same manifests, which names a snapshot in a Kustomization's status.history.
func ObjectsDigest(objs []*unstructured.Unstructured) string {
	h := sha256.New()
	for _, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			// An object that does not encode was refused by Validate; hash its reference.
			data = []byte(ObjectRef(o))
		}
		h.Write(data)
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
