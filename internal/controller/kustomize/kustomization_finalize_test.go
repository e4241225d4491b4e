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
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestKustomizationFinalizeFailureIsReported deletes a Kustomization whose garbage collection
// is forbidden (it impersonates a ServiceAccount that may not delete): the object stays, with
// Ready=False saying why, instead of a bare error in the controller's log.
func TestKustomizationFinalizeFailureIsReported(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ks := kustomization(ns, "app", "./app")
	createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")), ks,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "powerless"}})
	key := client.ObjectKeyFromObject(ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)

	// From now on the Kustomization acts as a ServiceAccount that may do nothing.
	var cur kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), key, &cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.ServiceAccountName = "powerless"
	if err := env.Client.Patch(t.Context(), &cur, patch); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(t.Context(), &cur); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		var got kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &got); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, "Ready")
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "finalization failed") || !strings.Contains(c.Message, "forbidden") {
			return fmt.Errorf("Ready = %+v, want False saying the finalization failed", c)
		}
		return nil
	})
	if v := configMapValue(t, ns, "app"); v != "1" {
		t.Errorf("ConfigMap = %q, want it left in place", v)
	}
	// Let the object go, so that the namespace can be deleted.
	testenv.Eventually(t, 30*time.Second, func() error {
		var got kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &got); err != nil {
			return client.IgnoreNotFound(err)
		}
		patch := client.MergeFrom(got.DeepCopy())
		got.Finalizers = nil
		return env.Client.Patch(t.Context(), &got, patch)
	})
}

// TestKustomizationPruneFailureStaysInInventory removes an object from Git while the
// Kustomization may not delete it: the prune fails, the object stays in the inventory (Flux
// 2.9) and is pruned by the next reconcile once deleting is allowed.
func TestKustomizationPruneFailureStaysInInventory(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "two", map[string]string{"app/a.yaml": configMapYAML(ns, "a", "1"), "app/b.yaml": configMapYAML(ns, "b", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruner"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}}}}
	createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruner"}}, role,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruner"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pruner"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "pruner", Namespace: ns}}},
		kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) { k.Spec.ServiceAccountName = "pruner" }))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)

	repo.Commit("main", "drop b", map[string]string{"app/b.yaml": ""})
	env.RequestReconcile(t, gitRepository(ns, "repo", ""))
	bID := ns + "_b__ConfigMap"
	waitKustomization(t, key, metav1.ConditionFalse, time.Minute, func(ks *kustomizev1.Kustomization) error {
		c := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		if c.Reason != "PruneFailed" || !strings.Contains(c.Message, "forbidden") {
			return fmt.Errorf("Ready = %+v, want PruneFailed saying forbidden", c)
		}
		if !inInventory(ks, bID) {
			return fmt.Errorf("inventory %v lacks %s, whose deletion failed", ks.Status.Inventory, bID)
		}
		return nil
	})
	if v := configMapValue(t, ns, "b"); v != "1" {
		t.Fatalf("ConfigMap b = %q, want it still there", v)
	}

	role.Rules[0].Verbs = append(role.Rules[0].Verbs, "delete")
	if err := env.Client.Update(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	env.RequestReconcile(t, kustomization(ns, "app", ""))
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(ks *kustomizev1.Kustomization) error {
		if inInventory(ks, bID) {
			return fmt.Errorf("inventory still lists %s", bID)
		}
		return nil
	})
	testenv.Eventually(t, 30*time.Second, func() error {
		var cm corev1.ConfigMap
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "b"}, &cm)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("ConfigMap b still exists (err %w)", err)
	})
}

func inInventory(ks *kustomizev1.Kustomization, id string) bool {
	if ks.Status.Inventory == nil {
		return false
	}
	for _, e := range ks.Status.Inventory.Entries {
		if e.ID == id {
			return true
		}
	}
	return false
}

// TestKustomizationWaitForTerminationTimeout deletes a Kustomization with deletionPolicy
// WaitForTermination whose object never terminates (a finalizer holds it): as in Flux, the
// wait ends at spec.timeout with an error event and the Kustomization goes anyway.
func TestKustomizationWaitForTerminationTimeout(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	held := strings.Replace(configMapYAML(ns, "held", "1"), "metadata:\n", "metadata:\n  finalizers: [weir.test/hold]\n", 1)
	root.NewRepo("repo").Commit("main", "held", map[string]string{"app/cm.yaml": held})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ks := kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.DeletionPolicy = kustomizev1.DeletionPolicyWaitForTermination
		k.Spec.Timeout = &metav1.Duration{Duration: 3 * time.Second}
	})
	createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")), ks)
	key := client.ObjectKeyFromObject(ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)
	t.Cleanup(func() {
		var cm corev1.ConfigMap
		if env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "held"}, &cm) == nil {
			patch := client.MergeFrom(cm.DeepCopy())
			cm.Finalizers = nil
			_ = env.Client.Patch(t.Context(), &cm, patch)
		}
	})

	if err := env.Client.Delete(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		var got kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &got); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Kustomization still there (err %w)", err)
		}
		return nil
	})
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "held"}, &cm); err != nil || cm.DeletionTimestamp == nil {
		t.Fatalf("ConfigMap held: err %v, deletionTimestamp %v; want it deleted and held by its finalizer", err, cm.DeletionTimestamp)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, e := range notificationController.received(ns, "app") {
			if e.Severity == "error" && strings.HasPrefix(e.Message, "WaitForTermination: ") && strings.Contains(e.Message, "ConfigMap/"+ns+"/held") {
				return nil
			}
		}
		return fmt.Errorf("no WaitForTermination error event among %d events", len(notificationController.received(ns, "app")))
	})
}
