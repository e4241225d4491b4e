package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// homeOps writes a tree laid out as the home-ops repositories people run: per namespace a
// kustomization.yaml listing its apps' ks.yaml; per app a Kustomization (dependsOn,
// substitution from a cluster ConfigMap, a shared component) whose path holds an
// OCIRepository, a HelmRelease (chartRef) and a ConfigMap. apps apps in namespaces
// namespaces; one app in three is plain manifests instead of a HelmRelease.
func homeOps(b testing.TB, dir, chartURL string, namespaces, apps int) {
	b.Helper()
	write := func(p, content string) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("clusters/main/vars.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-settings\n  namespace: flux-system\ndata:\n  DOMAIN: example.com\n  TZ: Europe/Paris\n")
	write("clusters/main/apps.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: cluster-apps\n  namespace: flux-system\n"+
		"spec:\n  interval: 30m\n  path: ./kubernetes/apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n")
	write("kubernetes/components/common/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- pairs:\n    app.kubernetes.io/part-of: home-ops\n")
	var top string
	for n := 0; n < namespaces; n++ {
		ns := fmt.Sprintf("ns-%02d", n)
		top += "- ./" + ns + "\n"
		list := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ./namespace.yaml\n"
		write("kubernetes/apps/"+ns+"/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n")
		for a := n; a < apps; a += namespaces {
			app := fmt.Sprintf("app-%03d", a)
			list += "- ./" + app + "/ks.yaml\n"
			base := "kubernetes/apps/" + ns + "/" + app
			dep := ""
			if a >= namespaces {
				dep = fmt.Sprintf("  dependsOn:\n  - name: app-%03d\n    namespace: flux-system\n", a-namespaces)
			}
			write(base+"/ks.yaml", fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s\n  namespace: flux-system\n"+
				"spec:\n  interval: 1h\n  path: ./%s/app\n  prune: true\n  targetNamespace: %s\n  components:\n  - ../../../../components/common\n%s"+
				"  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substitute:\n      APP: %s\n    substituteFrom:\n    - kind: ConfigMap\n      name: cluster-settings\n",
				app, base, ns, dep, app))
			res := "- ./config.yaml\n"
			write(base+"/app/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-config\ndata:\n  url: https://${APP}.${DOMAIN}\n  tz: ${TZ}\n")
			if a%3 != 0 {
				res += "- ./ocirepository.yaml\n- ./helmrelease.yaml\n"
				write(base+"/app/ocirepository.yaml", fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: %s\nspec:\n  interval: 1h\n  url: %s\n  ref:\n    tag: 1.0.0\n", app, chartURL))
				write(base+"/app/helmrelease.yaml", fmt.Sprintf("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: %s\nspec:\n  interval: 1h\n"+
					"  chartRef:\n    kind: OCIRepository\n    name: %s\n  values:\n    greeting: hello from %s\n", app, app, app))
			} else {
				res += "- ./deploy.yaml\n"
				write(base+"/app/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${APP}\nspec:\n  selector:\n    matchLabels:\n      app: ${APP}\n"+
					"  template:\n    metadata:\n      labels:\n        app: ${APP}\n    spec:\n      containers:\n      - name: app\n        image: ghcr.io/example/${APP}:1.0.0\n")
			}
			write(base+"/app/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"+res)
		}
		write("kubernetes/apps/"+ns+"/kustomization.yaml", list)
	}
	write("kubernetes/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"+top)
}

// BenchmarkPlanHomeOps plans a home-ops shaped tree of 300 app Kustomizations (200
// HelmReleases from OCIRepositories) against a base: two snapshots and their comparison.
func BenchmarkPlanHomeOps(b *testing.B) {
	reg := ociregistry.New(b, ociregistry.Options{})
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json"),
		mutate.Addendum{Layer: static.NewLayer(chartrepo.Package(b, chartrepo.Chart{Name: "app", Version: "1.0.0", Files: map[string]string{
			"values.yaml":       "greeting: hi\n",
			"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
		}}), oci.HelmChartContentMediaType)})
	if err != nil {
		b.Fatal(err)
	}
	ref, err := oci.ParseArtifact(reg.URL("charts/app")+":1.0.0", true)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	base, head := b.TempDir(), b.TempDir()
	homeOps(b, base, reg.URL("charts/app"), 20, 300)
	homeOps(b, head, reg.URL("charts/app"), 20, 300)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opts := Options{RootPath: "clusters/main", Charts: &Charts{}}
		opts.Dir = base
		bs, err := Discover(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		opts.Dir = head // the charts fetched for the base serve the head, as in weir plan
		hs, err := Discover(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		p := Compare(bs, hs, "base")
		if len(p.Problems) > 0 {
			b.Fatalf("plan: %d problems, the first: %s", len(p.Problems), p.Problems[0])
		}
		if p.Summary.Units < 500 {
			b.Fatalf("plan: %d units, want 500", p.Summary.Units)
		}
		b.ReportMetric(float64(p.Summary.Units), "units")
	}
}
