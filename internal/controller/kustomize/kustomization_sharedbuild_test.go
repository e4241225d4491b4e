package kustomize_test

import (
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestKustomizationsOfOneContentBuildApart: Kustomizations building the same artifact and
// path (a fleet rendered by its variables) share the kustomize stage, and each still gets its
// own substitution and overrides, on the first build and after a push.
func TestKustomizationsOfOneContentBuildApart(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	app := func(value string) map[string]string {
		return map[string]string{"app/cm.yaml": fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-${INDEX}\n  namespace: %s\ndata:\n  value: %s-${INDEX}\n", ns, value)}
	}
	repo.Commit("main", "v1", app("v1"))
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	vars := func(i string) func(*kustomizev1.Kustomization) {
		return func(ks *kustomizev1.Kustomization) {
			ks.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"INDEX": i}}
		}
	}
	prefixed := func(ks *kustomizev1.Kustomization) { ks.Spec.NamePrefix = "p-" }
	list := []*kustomizev1.Kustomization{
		kustomization(ns, "a", "./app", vars("1")),
		kustomization(ns, "b", "./app", vars("2")),
		kustomization(ns, "c", "./app", vars("3")),
		kustomization(ns, "d", "./app", vars("4"), prefixed),
	}
	for _, ks := range list {
		if err := env.Client.Create(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"app-1": "v1-1", "app-2": "v1-2", "app-3": "v1-3", "p-app-4": "v1-4"}
	check := func() {
		t.Helper()
		for name, value := range want {
			testenv.Eventually(t, time.Minute, func() error {
				var cm corev1.ConfigMap
				if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
					return err
				}
				if cm.Data["value"] != value {
					return fmt.Errorf("ConfigMap %s holds %q, want %q", name, cm.Data["value"], value)
				}
				return nil
			})
		}
		for _, ks := range list {
			got := waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
			if got.Status.Inventory == nil || len(got.Status.Inventory.Entries) != 1 {
				t.Fatalf("Kustomization %s inventory = %+v, want its one ConfigMap", ks.Name, got.Status.Inventory)
			}
		}
	}
	check()

	repo.Commit("main", "v2", app("v2"))
	src := gitRepository(ns, "repo", "")
	env.RequestReconcile(t, src)
	want = map[string]string{"app-1": "v2-1", "app-2": "v2-2", "app-3": "v2-3", "p-app-4": "v2-4"}
	check()
}
