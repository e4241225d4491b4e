package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestKustomizationDeletionPolicies checks that deleting a Kustomization deletes what it
// applied under MirrorPrune (prune: true) and keeps it under Orphan.
func TestKustomizationDeletionPolicies(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "tree", map[string]string{
		"mirror/cm.yaml": configMapYAML(ns, "mirror", "1"),
		"orphan/cm.yaml": configMapYAML(ns, "orphan", "1"),
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	mirror := kustomization(ns, "mirror", "./mirror")
	orphan := kustomization(ns, "orphan", "./orphan", func(k *kustomizev1.Kustomization) {
		k.Spec.DeletionPolicy = kustomizev1.DeletionPolicyOrphan
	})
	for _, ks := range []*kustomizev1.Kustomization{mirror, orphan} {
		if err := env.Client.Create(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
		waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
		if err := env.Client.Delete(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, time.Minute, func() error {
		for _, ks := range []*kustomizev1.Kustomization{mirror, orphan} {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ks), &kustomizev1.Kustomization{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Kustomization %s still present: %w", ks.Name, err)
			}
		}
		if v := configMapValue(t, ns, "mirror"); v != "" {
			return fmt.Errorf("MirrorPrune kept ConfigMap mirror")
		}
		return nil
	})
	if v := configMapValue(t, ns, "orphan"); v != "1" {
		t.Errorf("Orphan deleted ConfigMap orphan")
	}
}

// TestKustomizationImpersonatesServiceAccount checks that spec.serviceAccountName applies with
// that account's rights: refused without them, applied once they are granted.
func TestKustomizationImpersonatesServiceAccount(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "tree", map[string]string{"app/cm.yaml": configMapYAML(ns, "tenant", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"}}
	if err := env.Client.Create(t.Context(), sa); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "tenant", "./app", func(k *kustomizev1.Kustomization) { k.Spec.ServiceAccountName = "tenant" })
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	c := readyCondition(t, client.ObjectKeyFromObject(ks), "ReconciliationFailed", time.Minute)
	if !strings.Contains(c.Message, "forbidden") || !strings.Contains(c.Message, "system:serviceaccount:"+ns+":tenant") {
		t.Errorf("message does not say the service account was refused: %s", c.Message)
	}

	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "tenant"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tenant", Namespace: ns}}}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	env.RequestReconcile(t, ks)
	waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
	if v := configMapValue(t, ns, "tenant"); v != "1" {
		t.Errorf("ConfigMap not applied as the service account")
	}
}
