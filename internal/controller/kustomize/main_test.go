package kustomize_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

// TestMain runs the tests on one control plane, kube-controller-manager included, with weir's
// GitRepository and Kustomization controllers running in-process.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{ControllerManager: true}, &env, testenv.WithControllers("gitrepository", "kustomization")))
}

// waitKustomization waits until the Kustomization's Ready condition, for its current
// generation, has the wanted status and check passes.
func waitKustomization(t *testing.T, key client.ObjectKey, want metav1.ConditionStatus, timeout time.Duration, check func(*kustomizev1.Kustomization) error) *kustomizev1.Kustomization {
	t.Helper()
	var ks kustomizev1.Kustomization
	testenv.Eventually(t, timeout, func() error {
		if err := env.Client.Get(t.Context(), key, &ks); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		if c == nil || c.Status != want || ks.Status.ObservedGeneration != ks.Generation {
			return fmt.Errorf("Kustomization %s: Ready = %+v, want %s", key, c, want)
		}
		if check != nil {
			return check(&ks)
		}
		return nil
	})
	return &ks
}

func gitRepository(ns, name, url string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL: url, Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt on an object, as a Receiver does.
func requestReconcile(t *testing.T, obj client.Object) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if err := env.Client.Patch(t.Context(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}
