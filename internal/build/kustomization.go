package build

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/provider"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"
)

// Overrides are the Kustomization spec fields that Flux writes into the
// kustomization.yaml of spec.path (generated or existing) before the build,
// plus commonMetadata, which is stamped on every built object.
type Overrides struct {
	// TargetNamespace sets or overrides the kustomize namespace.
	TargetNamespace string
	// NamePrefix and NameSuffix are kustomize's namePrefix and nameSuffix.
	NamePrefix string
	NameSuffix string
	// Patches are strategic merge or JSON6902 patches with optional targets.
	Patches []kustomize.Patch
	// Images are merged by name into the kustomization's images.
	Images []kustomize.Image
	// Components are paths relative to spec.path.
	Components []string
	// IgnoreMissingComponents drops components whose path does not exist.
	IgnoreMissingComponents bool
	// CommonMetadata labels and annotations override those of every object.
	CommonMetadata *kustomizev1.CommonMetadata
	// BuildMetadata are kustomize's buildMetadata options (originAnnotations,
	// transformerAnnotations) added to the kustomization.
	BuildMetadata []string
}

// OverridesFromSpec takes the override fields of a Kustomization spec.
func OverridesFromSpec(spec *kustomizev1.KustomizationSpec) Overrides {
	if spec == nil {
		return Overrides{}
	}
	return Overrides{
		TargetNamespace:         spec.TargetNamespace,
		NamePrefix:              spec.NamePrefix,
		NameSuffix:              spec.NameSuffix,
		Patches:                 spec.Patches,
		Images:                  spec.Images,
		Components:              spec.Components,
		IgnoreMissingComponents: spec.IgnoreMissingComponents,
		CommonMetadata:          spec.CommonMetadata,
		BuildMetadata:           buildMetadata(spec.BuildMetadata),
	}
}

// rewrites reports whether the overrides change the kustomization file.
func (o Overrides) rewrites() bool {
	return o.TargetNamespace != "" || o.NamePrefix != "" || o.NameSuffix != "" ||
		len(o.Patches) > 0 || len(o.Images) > 0 || len(o.Components) > 0 || len(o.BuildMetadata) > 0
}

func buildMetadata(opts []kustomizev1.BuildMetadataOption) []string {
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		out = append(out, string(o))
	}
	return out
}

// findKustomizationFile returns the resolved path of the kustomization file
// in dir, or "" when there is none.
func findKustomizationFile(c *confinedFS, dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, name)
		if c.Exists(p) && !c.IsDir(p) {
			return p
		}
	}
	return ""
}

// prepareKustomization puts the kustomization file of dir, generated when
// missing and rewritten with the overrides, into the overlay of c.
func prepareKustomization(c *confinedFS, dir string, o Overrides) error {
	var kus kustypes.Kustomization
	kfile := findKustomizationFile(c, dir)
	if kfile == "" {
		resources, err := scanManifests(c, dir)
		if err != nil {
			return err
		}
		kus.Resources = resources
		kfile = filepath.Join(dir, konfig.DefaultKustomizationFileName())
	} else {
		if !o.rewrites() {
			return nil
		}
		data, err := c.ReadFile(kfile)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.rel(kfile), err)
		}
		if err := yaml.Unmarshal(data, &kus); err != nil {
			return fmt.Errorf("parse %s: %w", c.rel(kfile), err)
		}
	}
	kus.APIVersion = kustypes.KustomizationVersion
	kus.Kind = kustypes.KustomizationKind
	if err := applyOverrides(c, dir, &kus, o); err != nil {
		return err
	}
	out, err := yaml.Marshal(&kus)
	if err != nil {
		return fmt.Errorf("encode kustomization: %w", err)
	}
	c.overlay[kfile] = out
	return nil
}

func applyOverrides(c *confinedFS, dir string, kus *kustypes.Kustomization, o Overrides) error {
	if o.TargetNamespace != "" {
		kus.Namespace = o.TargetNamespace
	}
	if o.NamePrefix != "" {
		kus.NamePrefix = o.NamePrefix
	}
	if o.NameSuffix != "" {
		kus.NameSuffix = o.NameSuffix
	}
	for _, p := range o.Patches {
		kus.Patches = append(kus.Patches, kustypes.Patch{Patch: p.Patch, Target: selector(p.Target)})
	}
	for _, img := range o.Images {
		ni := kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest}
		replaced := false
		for i := range kus.Images {
			if kus.Images[i].Name == img.Name {
				kus.Images[i] = ni
				replaced = true
				break
			}
		}
		if !replaced {
			kus.Images = append(kus.Images, ni)
		}
	}
	for _, comp := range o.Components {
		if filepath.IsAbs(comp) {
			return fmt.Errorf("component %q: path must be relative to the kustomization path", comp)
		}
		p := filepath.Join(dir, comp)
		if _, err := c.resolve(p); err != nil {
			return fmt.Errorf("component %q: %w", comp, err)
		}
		if !c.Exists(p) {
			if o.IgnoreMissingComponents {
				continue
			}
			return fmt.Errorf("component %q: path not found", comp)
		}
		kus.Components = append(kus.Components, comp)
	}
	for _, m := range o.BuildMetadata {
		if !slices.Contains(kus.BuildMetadata, m) {
			kus.BuildMetadata = append(kus.BuildMetadata, m)
		}
	}
	return nil
}

func selector(s *kustomize.Selector) *kustypes.Selector {
	if s == nil {
		return nil
	}
	return &kustypes.Selector{
		ResId: resid.ResId{
			Gvk:       resid.Gvk{Group: s.Group, Version: s.Version, Kind: s.Kind},
			Name:      s.Name,
			Namespace: s.Namespace,
		},
		AnnotationSelector: s.AnnotationSelector,
		LabelSelector:      s.LabelSelector,
	}
}

// scanManifests lists, as Flux's generator does, every *.yaml and *.yml file
// under dir (recursively) and every sub-directory holding its own
// kustomization file (not descended into). Each listed file must decode as
// Kubernetes objects.
func scanManifests(c *confinedFS, dir string) ([]string, error) {
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	var paths []string
	err := c.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return fmt.Errorf("scan %s: %w", c.rel(path), err)
		}
		if path == dir {
			return nil
		}
		if c.ignore != nil {
			if rel, err := filepath.Rel(c.root, path); err == nil && c.ignore(filepath.ToSlash(rel), info.IsDir()) {
				if info.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if info.IsDir() {
			if findKustomizationFile(c, path) != "" {
				paths = append(paths, path)
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := c.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.rel(path), err)
		}
		if _, err := rf.SliceFromBytes(data); err != nil {
			return fmt.Errorf("decode Kubernetes YAML from %s: %w", c.rel(path), err)
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	resources := make([]string, 0, len(paths))
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", c.rel(p), err)
		}
		resources = append(resources, "./"+filepath.ToSlash(rel))
	}
	return resources, nil
}

// looksRemote reports whether a kustomization resource entry names a remote
// base (URL, git SSH address or host-qualified repository path).
func looksRemote(entry string) bool {
	if strings.Contains(entry, "://") || strings.HasPrefix(entry, "git@") || strings.HasPrefix(entry, "git::") {
		return true
	}
	first := strings.SplitN(entry, "/", 2)[0]
	return strings.Contains(entry, "/") && strings.Contains(first, ".") && first != "." && first != ".." &&
		!strings.HasSuffix(entry, ".yaml") && !strings.HasSuffix(entry, ".yml") ||
		strings.Contains(entry, "?ref=")
}

// localRemote reports whether a kustomization entry is a remote base that git would fetch
// from the local file system (file://, also behind kustomize's git:: prefix).
func localRemote(entry string) bool {
	e := strings.ToLower(strings.TrimSpace(entry))
	e = strings.TrimPrefix(e, "git::")
	return strings.HasPrefix(e, "file:")
}
