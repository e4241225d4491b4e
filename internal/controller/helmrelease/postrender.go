package helmrelease

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"helm.sh/helm/v4/pkg/action"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/build"
	"github.com/weirgitops/weir/internal/safeyaml"
)

// postRenderer runs after Helm renders the chart: spec.postRenderers' kustomize patches and
// images, in order, then spec.commonMetadata and Flux's own labels
// (helm.toolkit.fluxcd.io/name, …/namespace) on every object.
type postRenderer struct {
	ctx       context.Context
	tempDir   string
	renderers []helmv2.PostRenderer
	common    *helmv2.CommonMetadata
	name, ns  string
}

func newPostRenderer(ctx context.Context, tempDir string, hr *helmv2.HelmRelease) *postRenderer {
	return &postRenderer{ctx: ctx, tempDir: tempDir, renderers: hr.Spec.PostRenderers, common: hr.Spec.CommonMetadata,
		name: hr.Name, ns: hr.Namespace}
}

// strategy is spec.postRenderStrategy as the Helm SDK names it; Flux 2.9's default is
// combined (hooks are post-rendered too), nohooks under the UseHelm3Defaults gate (helm3).
func strategy(hr *helmv2.HelmRelease, helm3 bool) action.PostRenderStrategy {
	switch hr.GetPostRenderStrategy() {
	case "":
		if helm3 {
			return action.PostRenderStrategyNoHooks
		}
	case "nohooks":
		return action.PostRenderStrategyNoHooks
	case "separate":
		return action.PostRenderStrategySeparate
	}
	return action.PostRenderStrategyCombined
}

// Run post-renders the manifests.
func (p *postRenderer) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	if rendered == nil || len(bytes.TrimSpace(rendered.Bytes())) == 0 {
		return rendered, nil
	}
	var patches []kustomize.Patch
	var images []kustomize.Image
	for _, r := range p.renderers {
		if r.Kustomize != nil {
			patches = append(patches, r.Kustomize.Patches...)
			images = append(images, r.Kustomize.Images...)
		}
	}
	labels := map[string]string{nameLabel: p.name, namespaceLabel: p.ns}
	var annotations map[string]string
	if p.common != nil {
		for k, v := range p.common.Labels {
			labels[k] = v
		}
		annotations = p.common.Annotations
	}
	if len(patches) == 0 && len(images) == 0 {
		objs, err := labelled(rendered.Bytes(), labels, annotations)
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		return manifests(objs)
	}
	dir, err := os.MkdirTemp(p.tempDir, "helm-postrender-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "rendered.yaml"), rendered.Bytes(), 0o600); err != nil {
		return nil, err
	}
	objs, err := build.Build(p.ctx, dir, ".", build.Options{NoRemoteBases: true, Overrides: build.Overrides{
		Patches: patches, Images: images,
		CommonMetadata: &kustomizev1.CommonMetadata{Labels: labels, Annotations: annotations},
	}})
	if err != nil {
		return nil, fmt.Errorf("post-render: %w", err)
	}
	return manifests(objs)
}

// labelled is the post-render of a release without patches or images, the common case, done
// without a kustomize build on disk (a temporary directory, a walk and the process-wide
// kustomize lock per action): the manifests pass the same YAML limits, are parsed as kustomize
// parses them (lists unwrapped, an object defined twice refused), keep Helm's order (as Flux's
// own post-renderer keeps it) and get the labels and annotations, which override theirs.
func labelled(data []byte, labels, annotations map[string]string) ([]*unstructured.Unstructured, error) {
	if err := safeyaml.Check(data, safeyaml.DefaultLimits()); err != nil {
		return nil, err
	}
	m, err := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory()).NewResMapFromBytes(data)
	if err != nil {
		return nil, err
	}
	objs := make([]*unstructured.Unstructured, 0, m.Size())
	for _, res := range m.Resources() {
		js, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", res.CurId(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("decode %s: %w", res.CurId(), err)
		}
		obj.SetLabels(merged(obj.GetLabels(), labels))
		if len(annotations) > 0 {
			obj.SetAnnotations(merged(obj.GetAnnotations(), annotations))
		}
		objs = append(objs, obj)
	}
	return objs, build.Validate(objs)
}

// merged is into with from's keys set over it.
func merged(into, from map[string]string) map[string]string {
	if into == nil {
		into = make(map[string]string, len(from))
	}
	for k, v := range from {
		into[k] = v
	}
	return into
}

// manifests writes objs as one YAML stream.
func manifests(objs []*unstructured.Unstructured) (*bytes.Buffer, error) {
	var out bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return &out, nil
}

// postRenderStrategy is the strategy of the controller's actions.
func (r *Reconciler) postRenderStrategy(hr *helmv2.HelmRelease) action.PostRenderStrategy {
	return strategy(hr, r.UseHelm3Defaults)
}
