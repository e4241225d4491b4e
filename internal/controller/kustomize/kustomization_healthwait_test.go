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

// TestKustomizationHealthWaitsHoldNoWorker starts fifty Kustomizations that wait on
// Deployments which never become available (no kubelet runs here), more than the default
// --concurrent workers, and checks that an unrelated Kustomization still applies a push: the
// waits are driven by watch events, not by workers polling. While they wait, the fifty cost
// (almost) no API requests.
func TestKustomizationHealthWaitsHoldNoWorker(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	const n = 50
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("w%02d/deploy.yaml", i)] = deploymentYAML(ns, fmt.Sprintf("w%02d", i), 1)
	}
	root.NewRepo("waiting").Commit("main", "fifty waits", files)
	other := root.NewRepo("other")
	other.Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "other", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	for _, name := range []string{"waiting", "other"} {
		if err := env.Client.Create(t.Context(), gitRepository(ns, name, srv.RepoURL(name))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		ks := kustomization(ns, fmt.Sprintf("w%02d", i), fmt.Sprintf("./w%02d", i), func(k *kustomizev1.Kustomization) {
			k.Spec.SourceRef.Name = "waiting"
			k.Spec.Wait = true
			k.Spec.Timeout = &metav1.Duration{Duration: 30 * time.Minute}
		})
		if err := env.Client.Create(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		var list kustomizev1.KustomizationList
		if err := env.Client.List(t.Context(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		waiting := 0
		for _, ks := range list.Items {
			c := apimeta.FindStatusCondition(ks.Status.Conditions, "Reconciling")
			if c != nil && c.Status == metav1.ConditionTrue && strings.HasPrefix(c.Message, "Running health checks") {
				waiting++
			}
		}
		if waiting != n {
			return fmt.Errorf("%d of %d Kustomizations report a running health check", waiting, n)
		}
		return nil
	})

	requests := env.APIRequests()
	elapse(t, 10*time.Second)
	idle := env.APIRequests() - requests
	t.Logf("%d Kustomizations waiting on health: %d API requests in 10s", n, idle)
	if idle > n {
		t.Errorf("%d API requests in 10s while %d Kustomizations wait, want the waits to cost almost none", idle, n)
	}

	ks := kustomization(ns, "other", "./app", func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Name = "other" })
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ks)
	waitKustomization(t, key, metav1.ConditionTrue, 30*time.Second, nil)
	second := other.Commit("main", "two", map[string]string{"app/cm.yaml": configMapYAML(ns, "other", "2")})
	pushed := time.Now()
	env.RequestReconcile(t, gitRepository(ns, "other", ""))
	// With fifty waits holding the ten workers, this would take the waits' 30-minute timeout.
	waitKustomization(t, key, metav1.ConditionTrue, 30*time.Second, func(got *kustomizev1.Kustomization) error {
		if got.Status.LastAppliedRevision != "main@sha1:"+second || configMapValue(t, ns, "other") != "2" {
			return fmt.Errorf("revision %s applied, value %q", got.Status.LastAppliedRevision, configMapValue(t, ns, "other"))
		}
		return nil
	})
	t.Logf("push applied %s after the reconcile request, with %d Kustomizations waiting", time.Since(pushed).Round(time.Millisecond), n)
}
