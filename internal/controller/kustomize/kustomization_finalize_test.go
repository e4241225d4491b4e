package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
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
