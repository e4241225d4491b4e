package shard

import (
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestKey(t *testing.T) {
	om := metav1.ObjectMeta{Namespace: "apps", Name: "x"}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want string
	}{
		{"a source keys by itself", &sourcev1.GitRepository{ObjectMeta: om}, "GitRepository/apps/x"},
		{"an OCIRepository keys by itself", &sourcev1.OCIRepository{ObjectMeta: om}, "OCIRepository/apps/x"},
		{"a Kustomization keys by its source, in its namespace by default",
			&kustomizev1.Kustomization{ObjectMeta: om, Spec: kustomizev1.KustomizationSpec{
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet"}}},
			"GitRepository/apps/fleet"},
		{"a Kustomization keys by a source of another namespace",
			&kustomizev1.Kustomization{ObjectMeta: om, Spec: kustomizev1.KustomizationSpec{
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "fleet", Namespace: "flux-system"}}},
			"OCIRepository/flux-system/fleet"},
		{"a HelmRelease keys by its chartRef",
			&helmv2.HelmRelease{ObjectMeta: om, Spec: helmv2.HelmReleaseSpec{
				ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "podinfo"}}},
			"OCIRepository/apps/podinfo"},
		{"a HelmRelease with a chart template keys by the template's source",
			&helmv2.HelmRelease{ObjectMeta: om, Spec: helmv2.HelmReleaseSpec{Chart: &helmv2.HelmChartTemplate{
				Spec: helmv2.HelmChartTemplateSpec{Chart: "podinfo",
					SourceRef: helmv2.CrossNamespaceObjectReference{Kind: "HelmRepository", Name: "charts", Namespace: "flux-system"}}}}},
			"HelmRepository/flux-system/charts"},
		{"a HelmChart keys by its source, as the HelmRelease that generated it",
			&sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "apps-x"}, Spec: sourcev1.HelmChartSpec{
				SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: "HelmRepository", Name: "charts"}}},
			"HelmRepository/flux-system/charts"},
		{"an ImagePolicy keys by its ImageRepository",
			&imagev1.ImagePolicy{ObjectMeta: om, Spec: imagev1.ImagePolicySpec{
				ImageRepositoryRef: meta.NamespacedObjectReference{Name: "podinfo"}}},
			"ImageRepository/apps/podinfo"},
		{"an ImageUpdateAutomation keys by its GitRepository (the default kind)",
			&imageautov1.ImageUpdateAutomation{ObjectMeta: om, Spec: imageautov1.ImageUpdateAutomationSpec{
				SourceRef: imageautov1.CrossNamespaceSourceReference{Name: "fleet"}}},
			"GitRepository/apps/fleet"},
		{"a Receiver keys by itself", &notificationv1.Receiver{ObjectMeta: om}, "Receiver/apps/x"},
		{"a Kustomization without a source keys by itself", &kustomizev1.Kustomization{ObjectMeta: om}, "Kustomization/apps/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Key(tc.obj); got != tc.want {
				t.Errorf("Key = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestKeyIn: a HelmRelease whose chartRef names a HelmChart keys where the chart does (its
// HelmRepository), so the release, the chart and the repository share a replica; before the
// chart is in the cache it keys to the chart itself.
func TestKeyIn(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := sourcev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	chart := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "podinfo"},
		Spec: sourcev1.HelmChartSpec{SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}}
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "podinfo"},
		Spec: helmv2.HelmReleaseSpec{ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: "podinfo"}}}
	empty := fake.NewClientBuilder().WithScheme(scheme).Build()
	if got := KeyIn(t.Context(), empty, hr); got != "HelmChart/apps/podinfo" {
		t.Errorf("without the chart in the cache: %s", got)
	}
	cached := fake.NewClientBuilder().WithScheme(scheme).WithObjects(chart).Build()
	if got, want := KeyIn(t.Context(), cached, hr), Key(chart); got != want || want != "HelmRepository/apps/charts" {
		t.Errorf("KeyIn = %s, want the chart's key %s (HelmRepository/apps/charts)", got, want)
	}
	oci := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "x"},
		Spec: helmv2.HelmReleaseSpec{ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "x"}}}
	if got := KeyIn(t.Context(), cached, oci); got != Key(oci) {
		t.Errorf("an OCIRepository chartRef: %s, want %s", got, Key(oci))
	}
}

// TestKeyInFollowsIncludes: a GitRepository that includes another keys where the included one
// does, and so do its consumers; an include cycle ends.
func TestKeyInFollowsIncludes(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := sourcev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	include := func(name, of string) *sourcev1.GitRepository {
		g := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name}}
		if of != "" {
			g.Spec.Include = []sourcev1.GitRepositoryInclude{{GitRepositoryRef: meta.LocalObjectReference{Name: of}}}
		}
		return g
	}
	base, app := include("base", ""), include("app", "base")
	loopA, loopB := include("loop-a", "loop-b"), include("loop-b", "loop-a")
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(base, app, loopA, loopB).Build()
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "k"},
		Spec: kustomizev1.KustomizationSpec{SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"}}}
	for _, obj := range []client.Object{app, ks, base} {
		if got := KeyIn(t.Context(), c, obj); got != "GitRepository/apps/base" {
			t.Errorf("KeyIn(%s) = %s, want the included repository's key", obj.GetName(), got)
		}
	}
	if got := KeyIn(t.Context(), c, loopA); !strings.HasPrefix(got, "GitRepository/apps/loop-") {
		t.Errorf("an include cycle keyed to %s", got)
	}
}
