package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestKustomizationRecordsHistory checks status.history as Flux 2.7+ writes it: one snapshot
// per set of applied manifests and outcome, most recent first, with its revision; a reconcile
// of the same manifests updates its snapshot, new manifests add one.
func TestKustomizationRecordsHistory(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	first := repo.Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	src := gitRepository(ns, "repo", srv.RepoURL("repo"))
	if err := env.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "app", "./app")
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ks)
	got := waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(k *kustomizev1.Kustomization) error {
		if len(k.Status.History) != 1 {
			return fmt.Errorf("history %+v, want one snapshot", k.Status.History)
		}
		return nil
	})
	h := got.Status.History[0]
	if !strings.HasPrefix(h.Digest, "sha256:") || h.LastReconciledStatus != "ReconciliationSucceeded" || h.TotalReconciliations < 1 ||
		h.Metadata["revision"] != "main@sha1:"+first || h.FirstReconciled.IsZero() || h.LastReconciled.Before(&h.FirstReconciled) {
		t.Fatalf("snapshot %+v", h)
	}
	digest, total := h.Digest, h.TotalReconciliations

	// The same manifests again: the snapshot is updated, not repeated.
	env.RequestReconcile(t, ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(k *kustomizev1.Kustomization) error {
		if len(k.Status.History) != 1 || k.Status.History[0].Digest != digest || k.Status.History[0].TotalReconciliations <= total {
			return fmt.Errorf("history %+v, want the one snapshot counted again", k.Status.History)
		}
		return nil
	})

	// New manifests: a new snapshot in front.
	second := repo.Commit("main", "two", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "2")})
	env.RequestReconcile(t, src)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(k *kustomizev1.Kustomization) error {
		if len(k.Status.History) != 2 || k.Status.History[0].Metadata["revision"] != "main@sha1:"+second ||
			k.Status.History[0].Digest == digest || k.Status.History[1].Digest != digest {
			return fmt.Errorf("history %+v, want the second revision's snapshot first", k.Status.History)
		}
		return nil
	})
}
