package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

func deploymentYAML(ns, name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[3]d
  selector:
    matchLabels: {app: %[2]s}
  template:
    metadata:
      labels: {app: %[2]s}
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1.0.0
`, ns, name, replicas)
}

// TestKustomizationReportsProgressDuringHealthWait applies a Deployment that cannot become
// available (no kubelet runs here) with wait: true. While the health check waits, the status
// says so (Reconciling=True, Ready=Unknown) and already holds the inventory and the attempted
// revision; a new revision that scales the Deployment to zero ends the wait, and the
// Kustomization turns Ready with that revision.
func TestKustomizationReportsProgressDuringHealthWait(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	first := repo.Commit("main", "one replica", map[string]string{"app/deploy.yaml": deploymentYAML(ns, "app", 1)})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	src := gitRepository(ns, "repo", srv.RepoURL("repo"))
	if err := env.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
	})
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ks)
	testenv.Eventually(t, 20*time.Second, func() error {
		var got kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &got); err != nil {
			return err
		}
		ready := apimeta.FindStatusCondition(got.Status.Conditions, "Ready")
		reconciling := apimeta.FindStatusCondition(got.Status.Conditions, "Reconciling")
		if ready == nil || ready.Status != metav1.ConditionUnknown || ready.Reason != "Progressing" {
			return fmt.Errorf("Ready = %+v, want Unknown/Progressing", ready)
		}
		if reconciling == nil || reconciling.Status != metav1.ConditionTrue || !strings.Contains(reconciling.Message, "Running health checks for revision main@sha1:"+first) {
			return fmt.Errorf("Reconciling = %+v, want True saying it runs health checks", reconciling)
		}
		if got.Status.LastAttemptedRevision != "main@sha1:"+first {
			return fmt.Errorf("lastAttemptedRevision %q", got.Status.LastAttemptedRevision)
		}
		if got.Status.Inventory == nil || len(got.Status.Inventory.Entries) != 1 || got.Status.Inventory.Entries[0].ID != ns+"_app_apps_Deployment" {
			return fmt.Errorf("inventory %+v, want the Deployment", got.Status.Inventory)
		}
		return nil
	})

	second := repo.Commit("main", "zero replicas", map[string]string{"app/deploy.yaml": deploymentYAML(ns, "app", 0)})
	env.RequestReconcile(t, src)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(got *kustomizev1.Kustomization) error {
		if got.Status.LastAppliedRevision != "main@sha1:"+second {
			return fmt.Errorf("lastAppliedRevision %q, want the second commit", got.Status.LastAppliedRevision)
		}
		if c := apimeta.FindStatusCondition(got.Status.Conditions, "Reconciling"); c != nil {
			return fmt.Errorf("Reconciling still present: %+v", c)
		}
		return nil
	})
}
