package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
)

// helmChartTemplates are the small chart of the Helm workload: a ServiceAccount, a
// Deployment scaled to zero and a Service, as the Flux figure was measured with.
var helmChartTemplates = map[string]string{
	"templates/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n",
	"templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 0
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
      - name: app
        image: ghcr.io/stefanprodan/podinfo:6.5.0
`,
	"templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector: {app: {{ .Release.Name }}}\n  ports:\n  - port: 80\n",
}

// benchChart packages the workload's chart and returns the .tgz.
func benchChart() ([]byte, error) {
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "bench", Version: "1.0.0"}}
	for name, data := range helmChartTemplates {
		ch.Templates = append(ch.Templates, &common.File{Name: name, Data: []byte(data), ModTime: time.Now()})
	}
	dir, err := os.MkdirTemp("", "weir-bench-chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// runHelm is time to production with HelmReleases: n releases of one small chart, created at
// once, from one HelmRepository (each HelmRelease's spec.chart makes its HelmChart, as in
// Flux's benchmark) or, variant oci, through chartRef to one OCIRepository.
func runHelm(ctx context.Context, c *cluster, cfg *config, n int, variant string) ([]Result, error) {
	ns := fmt.Sprintf("helm-%s-%d", variant, n)
	data, err := benchChart()
	if err != nil {
		return nil, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := make([]client.Object, 0, n+1)
	switch variant {
	case "repository":
		dir, err := os.MkdirTemp("", "weir-bench-charts-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "bench-1.0.0.tgz"), data, 0o644); err != nil {
			return nil, err
		}
		srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
		defer srv.Close()
		idx, err := repo.IndexDirectory(dir, srv.URL)
		if err != nil {
			return nil, err
		}
		if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
			return nil, err
		}
		objs = append(objs, &sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "charts"},
			Spec: sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}}})
		for i := range n {
			objs = append(objs, &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: appName(i)},
				Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
					Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{Chart: "bench", Version: "1.x",
						SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}}}})
		}
		cfg.logf("► creating 1 HelmRepository and %d HelmReleases in %s", n, ns)
		return finishHelm(ctx, c, cfg, ns, n, variant, objs)
	default:
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer srv.Close()
		url := "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/charts/bench"
		img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json"),
			mutate.Addendum{Layer: static.NewLayer(data, oci.HelmChartContentMediaType)})
		if err != nil {
			return nil, err
		}
		ref, err := oci.ParseArtifact(url+":1.0.0", true)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return nil, err
		}
		objs = append(objs, &sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bench"},
			Spec: sourcev1.OCIRepositorySpec{URL: url, Insecure: true, Reference: &sourcev1.OCIRepositoryRef{Tag: "1.0.0"},
				Interval:      metav1.Duration{Duration: time.Hour},
				LayerSelector: &sourcev1.OCILayerSelector{MediaType: oci.HelmChartContentMediaType, Operation: sourcev1.OCILayerCopy}}})
		for i := range n {
			objs = append(objs, &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: appName(i)},
				Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
					ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "bench"}}})
		}
		cfg.logf("► creating 1 OCIRepository and %d HelmReleases (chartRef) in %s", n, ns)
		return finishHelm(ctx, c, cfg, ns, n, variant, objs)
	}
}

func finishHelm(ctx context.Context, c *cluster, cfg *config, ns string, n int, variant string, objs []client.Object) ([]Result, error) {
	r, err := measureReady(ctx, c, cfg, ns, n, objs, "helm-"+variant+"-"+strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "helm", variant, n*3
	finish(c, &r)
	return []Result{r}, nil
}
