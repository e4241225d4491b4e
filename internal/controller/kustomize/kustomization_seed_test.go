package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/examples"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// ensureNamespace creates a namespace the seed manifests name verbatim.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestSeed001Hierarchy reconciles the eight-layer hierarchy of seed 001 verbatim: a root
// Kustomization applies the eight Kustomizations, which then converge in dependency order,
// with health checks (the wildcard one included), substitutions, and prune: false on CRDs.
// Pushing a commit that removes an object prunes it; one that changes a substituted value
// updates it.
func TestSeed001Hierarchy(t *testing.T) {
	ensureNamespace(t, "flux-system")
	files, err := examples.Files("seed001")
	if err != nil {
		t.Fatal(err)
	}
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("platform")
	repo.Commit("main", "platform", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secrets", Namespace: "flux-system"},
		StringData: map[string]string{"api_key_name": "/apps/myapp/api-key"}}
	if err := env.Client.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	src := gitRepository("flux-system", "flux-system", srv.RepoURL("platform"))
	if err := env.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	rootKs := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Path:      "./clusters/mycluster-0",
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "flux-system"},
		},
	}
	if err := env.Client.Create(t.Context(), rootKs); err != nil {
		t.Fatal(err)
	}

	layers := []string{"flux-system", "namespaces", "crds", "crossplane", "epis", "security", "infrastructure", "observability", "apps"}
	for _, name := range layers {
		ks := waitKustomization(t, client.ObjectKey{Namespace: "flux-system", Name: name}, metav1.ConditionTrue, 3*time.Minute, nil)
		if !strings.HasPrefix(ks.Status.LastAppliedRevision, "main@sha1:") {
			t.Errorf("%s lastAppliedRevision %q", name, ks.Status.LastAppliedRevision)
		}
	}
	// The wildcard health check covered both EKSPodIdentities.
	epis := waitKustomization(t, client.ObjectKey{Namespace: "flux-system", Name: "epis"}, metav1.ConditionTrue, time.Minute, nil)
	if c := apimeta.FindStatusCondition(epis.Status.Conditions, "Healthy"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("epis Healthy = %+v", c)
	}
	if n := len(epis.Status.Inventory.Entries); n != 2 {
		t.Errorf("epis inventory has %d entries, want 2", n)
	}
	// Substitutions: from the ConfigMap (through the inline values) and from the Secret.
	gw := configMapData(t, "infrastructure", "platform-tailscale-general")
	if gw["hostname"] != "*.priv.cloud.ogenki.io" || gw["cluster"] != "mycluster-0" {
		t.Errorf("gateway settings %v", gw)
	}
	if app := configMapData(t, "apps", "myapp"); app["apiKeyRef"] != "/apps/myapp/api-key" {
		t.Errorf("app settings %v", app)
	}
	var dep appsv1.Deployment
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "crossplane-system", Name: "crossplane"}, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Labels["kustomize.toolkit.fluxcd.io/name"] != "crossplane" || dep.Labels["kustomize.toolkit.fluxcd.io/namespace"] != "flux-system" {
		t.Errorf("deployment owner labels %v", dep.Labels)
	}

	// A push that removes an object prunes it, and one that changes a substituted value
	// updates the object that uses it.
	files["observability/mycluster-0/victoriametrics.yaml"] = `apiVersion: v1
kind: ConfigMap
metadata:
  name: victoriametrics
  namespace: observability
data:
  retention: 30d
`
	files["clusters/mycluster-0/cluster-vars-configmap.yaml"] = strings.Replace(
		files["clusters/mycluster-0/cluster-vars-configmap.yaml"], "priv.cloud.ogenki.io", "example.org", 1)
	head := repo.Commit("main", "drop victorialogs, move domain", files)
	env.RequestReconcile(t, src)
	testenv.Eventually(t, 2*time.Minute, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "observability", Name: "victorialogs"}, &corev1.ConfigMap{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("victorialogs not pruned: %w", err)
		}
		if gw := configMapData(t, "infrastructure", "platform-tailscale-general"); gw["hostname"] != "*.example.org" {
			return fmt.Errorf("hostname %q not updated", gw["hostname"])
		}
		return nil
	})
	for _, name := range layers {
		waitKustomization(t, client.ObjectKey{Namespace: "flux-system", Name: name}, metav1.ConditionTrue, 2*time.Minute,
			func(ks *kustomizev1.Kustomization) error {
				if ks.Status.LastAppliedRevision != "main@sha1:"+head {
					return fmt.Errorf("lastAppliedRevision %s", ks.Status.LastAppliedRevision)
				}
				return nil
			})
	}
	// prune: false keeps the CRD even when it leaves the tree.
	delete(files, "crds/base/ekspodidentities.yaml")
	files["crds/base/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
	files["security/base/epis/epis.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: epis-retired\n  namespace: security\n"
	repo.Commit("main", "retire the EKSPodIdentity CRD", files)
	env.RequestReconcile(t, src)
	waitKustomization(t, client.ObjectKey{Namespace: "flux-system", Name: "crds"}, metav1.ConditionTrue, 2*time.Minute,
		func(ks *kustomizev1.Kustomization) error {
			if len(ks.Status.Inventory.Entries) != 0 {
				return fmt.Errorf("crds inventory %v", ks.Status.Inventory.Entries)
			}
			return nil
		})
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "ekspodidentities.cloud.ogenki.io"}, crd); err != nil {
		t.Fatalf("CRD pruned despite prune: false: %v", err)
	}
}

func configMapData(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		return map[string]string{"error": err.Error()}
	}
	return cm.Data
}

// TestSeed003WebApp reconciles the web-app Kustomization of seed 003 verbatim, including its
// `validation: client` field that Flux's v1 API no longer has, and its two health checks.
func TestSeed003WebApp(t *testing.T) {
	ensureNamespace(t, "flux-system")
	files, err := examples.Files("seed003")
	if err != nil {
		t.Fatal(err)
	}
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("web-app")
	repo.Commit("main", "web-app", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository("flux-system", "web-app", srv.RepoURL("web-app"))); err != nil {
		t.Fatal(err)
	}
	// The Kustomization itself comes from Git, verbatim, applied by a parent Kustomization.
	// Its `validation: client` field is one Flux's v1 API dropped: weir drops it on apply
	// instead of failing, as server-side apply would.
	fleet := root.NewRepo("fleet")
	fleet.Commit("main", "fleet", map[string]string{"clusters/web-app.yaml": files["web-app.yaml"]})
	if err := env.Client.Create(t.Context(), gitRepository("flux-system", "fleet", srv.RepoURL("fleet"))); err != nil {
		t.Fatal(err)
	}
	parent := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: "flux-system"},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute}, Path: "./clusters", Prune: true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet"},
		},
	}
	if err := env.Client.Create(t.Context(), parent); err != nil {
		t.Fatal(err)
	}
	waitKustomization(t, client.ObjectKeyFromObject(parent), metav1.ConditionTrue, time.Minute, nil)
	ks := waitKustomization(t, client.ObjectKey{Namespace: "flux-system", Name: "web-app"}, metav1.ConditionTrue, 2*time.Minute, nil)
	if c := apimeta.FindStatusCondition(ks.Status.Conditions, "Healthy"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Healthy = %+v", c)
	}
	ids := map[string]bool{}
	for _, e := range ks.Status.Inventory.Entries {
		ids[e.ID+"@"+e.Version] = true
	}
	for _, want := range []string{"default_web-app_apps_Deployment@v1", "default_web-app__Service@v1"} {
		if !ids[want] {
			t.Errorf("inventory lacks %s: %v", want, ks.Status.Inventory.Entries)
		}
	}
}
