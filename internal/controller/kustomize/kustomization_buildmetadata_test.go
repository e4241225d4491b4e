package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestKustomizationBuildMetadata applies with spec.buildMetadata (Flux 2.9): the objects in
// the cluster carry kustomize's origin and transformer annotations.
func TestKustomizationBuildMetadata(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")), kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.NameSuffix = "-x"
		k.Spec.BuildMetadata = []kustomizev1.BuildMetadataOption{
			kustomizev1.BuildMetadataOriginAnnotations, kustomizev1.BuildMetadataTransformerAnnotations}
	}))
	waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "app"}, metav1.ConditionTrue, time.Minute, nil)
	testenv.Eventually(t, 30*time.Second, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app-x"}, &cm); err != nil {
			return err
		}
		if o := cm.Annotations["config.kubernetes.io/origin"]; !strings.Contains(o, "path: cm.yaml") {
			return fmt.Errorf("origin annotation = %q", o)
		}
		if tr := cm.Annotations["alpha.config.kubernetes.io/transformations"]; !strings.Contains(tr, "kind: SuffixTransformer") {
			return fmt.Errorf("transformations annotation = %q", tr)
		}
		return nil
	})
}
