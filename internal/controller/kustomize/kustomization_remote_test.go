package kustomize_test

import (
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestKustomizationAppliesThroughWorkloadIdentity starts a second API server that trusts the
// ServiceAccount tokens of the first (a remote cluster federated with the management
// cluster's issuer), and applies a Kustomization through spec.kubeConfig.configMapRef with
// provider generic: the objects land on the second API server, authenticated as the
// ServiceAccount, and nothing lands on the first.
func TestKustomizationAppliesThroughWorkloadIdentity(t *testing.T) {
	ns := env.Namespace(t)
	if err := env.AllowIssuerDiscovery(t.Context()); err != nil {
		t.Fatal(err)
	}
	remote, err := testenv.Start(t.Context(), testenv.Options{NoCRDs: true, TrustIssuerOf: env, Audience: "weir-remote"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Stop)

	// The remote cluster lets the management cluster's ServiceAccount deploy into ns.
	user := "remote:system:serviceaccount:" + ns + ":deployer"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"},
			// cluster-admin, bound in ns only: the aggregated admin role needs a controller manager.
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
		},
	} {
		if err := remote.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}

	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "remote", map[string]string{"remote/cm.yaml": configMapYAML(ns, "remote-only", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	identity := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remote-cluster"}, Data: map[string]string{
		"provider": "generic", "address": remote.Config.Host, "ca.crt": string(remote.Config.CAData),
		"audiences": "weir-remote", "serviceAccountName": "deployer",
	}}
	for _, obj := range []client.Object{
		gitRepository(ns, "repo", srv.RepoURL("repo")),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"}},
		identity,
		kustomization(ns, "remote", "./remote", func(k *kustomizev1.Kustomization) {
			k.Spec.KubeConfig = &meta.KubeConfigReference{ConfigMapRef: &meta.LocalObjectReference{Name: "remote-cluster"}}
			k.Spec.Wait = true // health is read on the remote cluster
		}),
	} {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "remote"}, metav1.ConditionTrue, time.Minute, nil)

	var cm corev1.ConfigMap
	if err := remote.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "remote-only"}, &cm); err != nil {
		t.Fatalf("the ConfigMap did not land on the remote cluster: %v", err)
	}
	if cm.Data["value"] != "1" {
		t.Errorf("remote ConfigMap = %v", cm.Data)
	}
	managers := ""
	for _, f := range cm.ManagedFields {
		managers += f.Manager + " "
	}
	if managers != "kustomize-controller " {
		t.Errorf("remote ConfigMap managed by %q, want kustomize-controller", managers)
	}
	if v := configMapValue(t, ns, "remote-only"); v != "" {
		t.Fatal("a manifest meant for the remote cluster was applied to the management cluster")
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		var ks kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "remote"}, &ks); err != nil {
			return err
		}
		if ks.Status.Inventory == nil || len(ks.Status.Inventory.Entries) != 1 {
			return fmt.Errorf("inventory %+v", ks.Status.Inventory)
		}
		return nil
	})
}
