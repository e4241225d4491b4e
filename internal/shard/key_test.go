package shard

import (
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
