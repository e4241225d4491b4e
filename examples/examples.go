// Package examples holds the example Git trees that weir must reconcile verbatim: seed001 is the
// eight-layer platform hierarchy (namespaces → CRDs → crossplane → EKS Pod Identities →
// security → infrastructure → observability → apps), seed003 the web-app Kustomization of the
// toolkit overview. The end-to-end tests and `make demo` push them into local Git repositories.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed seed001 seed003
var trees embed.FS

// Files returns the files of the example tree name as a map from slash-separated path to
// content, ready to commit.
func Files(name string) (map[string]string, error) {
	sub, err := fs.Sub(trees, name)
	if err != nil {
		return nil, fmt.Errorf("example %s: %w", name, err)
	}
	files := map[string]string{}
	err = fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		files[path] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("example %s: %w", name, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("example %s has no files", name)
	}
	return files, nil
}
