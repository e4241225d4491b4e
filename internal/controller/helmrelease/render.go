package helmrelease

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Render renders hr's chart as the controller would install it: the cluster's values and
// valuesFrom, the post-renderers, Flux's labels, with a client-side dry run (nothing is
// written). It returns the manifest, the objects it holds (namespaced ones placed in the
// release namespace) and the values used.
func Render(ctx context.Context, c client.Reader, cfg *rest.Config, mapper meta.RESTMapper, hr *helmv2.HelmRelease,
	ch *chart.Chart, tempDir string) (string, []*unstructured.Unstructured, error) {
	values, err := composeValues(ctx, c, hr)
	if err != nil {
		return "", nil, err
	}
	ac, err := newActionConfig(cfg, hr.GetReleaseNamespace(), hr.GetStorageNamespace(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return "", nil, err
	}
	in := action.NewInstall(ac)
	in.DryRunStrategy = action.DryRunClient
	in.ReleaseName, in.Namespace, in.Replace = hr.GetReleaseName(), hr.GetReleaseNamespace(), true
	opts := hr.GetInstall()
	in.IncludeCRDs = !opts.SkipCRDs && opts.CRDs != helmv2.Skip
	in.DisableHooks = opts.DisableHooks
	in.PostRenderer, in.PostRenderStrategy = newPostRenderer(ctx, tempDir, hr), strategy(hr, false)
	res, err := in.RunWithContext(ctx, ch, values)
	if err != nil {
		return "", nil, fmt.Errorf("render %s: %w", releaseID(hr), err)
	}
	rel := asRelease(res)
	if rel == nil {
		return "", nil, fmt.Errorf("render %s: no release", releaseID(hr))
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String(), withHelmOwnership(manifestObjects(rel, mapper), rel.Name, rel.Namespace), nil
}
