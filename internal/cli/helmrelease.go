package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/cobra"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/controller/helmrelease"
	"github.com/weirgitops/weir/internal/source/helm"
	"github.com/weirgitops/weir/internal/sourceref"
)

// renderHelmRelease renders the HelmRelease name as the controller would: the chart of its
// source in the cluster (or chartPath), the cluster's values, its post-renderers.
func renderHelmRelease(ctx context.Context, g *globals, c client.Client, name, chartPath string) (*helmv2.HelmRelease, string, []*unstructured.Unstructured, error) {
	var hr helmv2.HelmRelease
	if err := c.Get(ctx, client.ObjectKey{Namespace: g.namespace, Name: name}, &hr); err != nil {
		return nil, "", nil, fmt.Errorf("get HelmRelease %s/%s: %w", g.namespace, name, err)
	}
	ch, err := loadReleaseChart(ctx, c, &hr, chartPath)
	if err != nil {
		return nil, "", nil, err
	}
	cfg, err := g.restConfig()
	if err != nil {
		return nil, "", nil, err
	}
	manifest, objs, err := helmrelease.Render(ctx, c, cfg, c.RESTMapper(), &hr, ch, "")
	if err != nil {
		return nil, "", nil, err
	}
	return &hr, manifest, objs, nil
}

// loadReleaseChart loads a local chart (a directory or a .tgz), or downloads the artifact of
// the release's chart source and checks its digest.
func loadReleaseChart(ctx context.Context, c client.Client, hr *helmv2.HelmRelease, chartPath string) (*chart.Chart, error) {
	if chartPath != "" {
		if fi, err := os.Stat(chartPath); err == nil && fi.IsDir() {
			return helm.LoadDir(chartPath)
		}
		data, err := os.ReadFile(chartPath)
		if err != nil {
			return nil, fmt.Errorf("read chart: %w", err)
		}
		return helm.LoadArchive(data)
	}
	ref := sourceref.Ref{Kind: sourcev1.HelmChartKind, Namespace: hr.Namespace, Name: hr.GetHelmChartName()}
	switch {
	case hr.HasChartRef():
		ref = sourceref.Ref{Kind: hr.Spec.ChartRef.Kind, Namespace: hr.Spec.ChartRef.Namespace, Name: hr.Spec.ChartRef.Name}
		if ref.Namespace == "" {
			ref.Namespace = hr.Namespace
		}
	case hr.HasChartTemplate() && hr.Spec.Chart.Spec.SourceRef.Namespace != "":
		ref.Namespace = hr.Spec.Chart.Spec.SourceRef.Namespace
	}
	a, err := sourceref.Artifact(ctx, c, c.Scheme(), ref)
	if err != nil {
		return nil, fmt.Errorf("get chart source %s: %w", ref, err)
	}
	if a == nil {
		return nil, fmt.Errorf("chart source %s has no artifact yet", ref)
	}
	data, err := artifact.Fetch(ctx, a.URL, a.Digest, helm.DefaultMaxChartSize)
	if err != nil {
		return nil, fmt.Errorf("download the chart of %s: %w (use --chart with a local chart when the artifact server is out of reach)", ref, err)
	}
	ch, err := helm.LoadArchive(data)
	if err == nil && ref.Kind == sourcev1.OCIRepositoryKind {
		// Released with the digest in its version, as the controller does.
		ch.Metadata.Version = helmrelease.DigestVersion(ch.Metadata.Version, a.Revision)
	}
	return ch, err
}

func newBuildHelmReleaseCommand(g *globals) *cobra.Command {
	var chartPath string
	cmd := &cobra.Command{
		Use:     "helmrelease [name]",
		Aliases: []string{"hr"},
		Short:   "Build a HelmRelease",
		Long: "The build helmrelease command renders the release exactly as the controller would install it: the chart of " +
			"its source in the cluster (or a local chart with --chart), the values and valuesFrom of the cluster, the post-renderers " +
			"and commonMetadata. Nothing is written to the cluster.",
		Example: `  # Render what the podinfo HelmRelease releases
  weir build helmrelease podinfo -n apps

  # Render a local change of the chart with the cluster's values
  weir build helmrelease podinfo -n apps --chart ./charts/podinfo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			_, manifest, _, err := renderHelmRelease(ctx, g, c, args[0], chartPath)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.out, strings.TrimSpace(manifest))
			return err
		},
	}
	cmd.Flags().StringVar(&chartPath, "chart", "", "path to a local chart (directory or .tgz) to render instead of the source's")
	return cmd
}

func newDiffHelmReleaseCommand(g *globals) *cobra.Command {
	var chartPath string
	cmd := &cobra.Command{
		Use:     "helmrelease [name]",
		Aliases: []string{"hr"},
		Short:   "Diff a HelmRelease",
		Long: "The diff helmrelease command renders the release as build helmrelease does and compares it with the live objects " +
			"through a server-side dry run (as helm-controller), Secret values masked. The exit code is 1 when there are " +
			"differences, 0 when there are none and 2 when the diff failed.",
		Example: `  # What would the next upgrade of podinfo change?
  weir diff helmrelease podinfo -n apps --chart ./charts/podinfo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			_, _, objs, err := renderHelmRelease(ctx, g, c, args[0], chartPath)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			m := apply.NewManager(c, apply.Options{FieldManager: compat.HelmFieldManager})
			entries, diffErr := m.Diff(ctx, objs, apply.ApplyOptions{})
			return diffExit(printDiffEntries(g, entries), diffErr)
		},
	}
	cmd.Flags().StringVar(&chartPath, "chart", "", "path to a local chart (directory or .tgz) to render instead of the source's")
	return cmd
}
