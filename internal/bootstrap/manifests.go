package bootstrap

import (
	"fmt"
	"path"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/install"
)

// File names of the bootstrap directory, Flux's.
const (
	ComponentsFile    = "gotk-components.yaml"
	SyncFile          = "gotk-sync.yaml"
	KustomizationFile = "kustomization.yaml"
)

// SyncOptions shape the sync manifests.
type SyncOptions struct {
	// Namespace is weir's namespace; the GitRepository, Kustomization and Secret are named
	// after it, as Flux names them.
	Namespace string
	// URL is the repository URL the GitRepository fetches.
	URL string
	// Branch is the branch it follows.
	Branch string
	// Path is the directory of the cluster in the repository ("" for the root).
	Path string
	// Interval is the GitRepository's interval; the Kustomization's is 10m, as Flux's.
	Interval time.Duration
	// SecretName is the Secret of the GitRepository.
	SecretName string
	// RecurseSubmodules fetches submodules too.
	RecurseSubmodules bool
}

// Dir is the repository directory that holds the bootstrap files: <path>/<namespace>.
func Dir(o SyncOptions) string {
	return path.Join(strings.Trim(path.Clean("/"+o.Path), "/"), o.Namespace)
}

// Files renders the bootstrap directory: weir's install (without a UI or other options than
// those given), the sync manifests and the kustomization.yaml listing both, by path in the
// repository.
func Files(inst install.Options, o SyncOptions) (map[string][]byte, error) {
	components, err := install.Render(inst)
	if err != nil {
		return nil, fmt.Errorf("render weir's install: %w", err)
	}
	sync, err := SyncManifests(o)
	if err != nil {
		return nil, err
	}
	dir := Dir(o)
	header := "# weir install manifests, written by weir bootstrap: do not edit.\n"
	return map[string][]byte{
		path.Join(dir, ComponentsFile): append([]byte(header+"---\n"), components...),
		path.Join(dir, SyncFile):       sync,
		path.Join(dir, KustomizationFile): []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " +
			ComponentsFile + "\n- " + SyncFile + "\n"),
	}, nil
}

// SyncManifests renders the GitRepository and the Kustomization that sync the cluster's path.
func SyncManifests(o SyncOptions) ([]byte, error) {
	kpath := "./" + strings.Trim(path.Clean("/"+o.Path), "/")
	gitSpec := map[string]any{
		"interval":  o.Interval.String(),
		"ref":       map[string]any{"branch": o.Branch},
		"secretRef": map[string]any{"name": o.SecretName},
		"url":       o.URL,
	}
	if o.RecurseSubmodules {
		gitSpec["recurseSubmodules"] = true
	}
	docs := []map[string]any{
		{
			"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": o.Namespace, "namespace": o.Namespace},
			"spec":     gitSpec,
		},
		{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": o.Namespace, "namespace": o.Namespace},
			"spec": map[string]any{
				"interval":  "10m0s",
				"path":      kpath,
				"prune":     true,
				"sourceRef": map[string]any{"kind": "GitRepository", "name": o.Namespace},
			},
		},
	}
	var b strings.Builder
	for _, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("render sync manifests: %w", err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return []byte(b.String()), nil
}
