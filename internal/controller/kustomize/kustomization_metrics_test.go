package kustomize_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// scrape returns the manager's /metrics page.
func scrape(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestMetricsFollowObjects checks that /metrics serves Flux's gotk series for a Kustomization
// and its GitRepository, and the per-object gotk_resource_info gauge with readiness and
// revision, and that the series go when the objects are deleted.
func TestMetricsFollowObjects(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	rev := root.NewRepo("repo").Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	src := gitRepository(ns, "repo", srv.RepoURL("repo"))
	if err := env.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "app", "./app")
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
	want := []string{
		fmt.Sprintf(`gotk_resource_info{customresource_group="kustomize.toolkit.fluxcd.io",customresource_kind="Kustomization",customresource_version="v1",exported_namespace=%q,name="app",ready="True",revision="main@sha1:%s",suspended="false"} 1`, ns, rev),
		fmt.Sprintf(`gotk_resource_info{customresource_group="source.toolkit.fluxcd.io",customresource_kind="GitRepository",customresource_version="v1",exported_namespace=%q,name="repo",ready="True",revision="main@sha1:%s",suspended="false"} 1`, ns, rev),
		fmt.Sprintf(`gotk_reconcile_duration_seconds_count{kind="Kustomization",name="app",namespace=%q}`, ns),
		fmt.Sprintf(`gotk_reconcile_duration_seconds_count{kind="GitRepository",name="repo",namespace=%q}`, ns),
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		page := scrape(t)
		for _, w := range want {
			if !strings.Contains(page, w) {
				return fmt.Errorf("/metrics lacks %s", w)
			}
		}
		return nil
	})

	for _, obj := range []client.Object{ks, src} {
		if err := env.Client.Delete(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, time.Minute, func() error {
		page := scrape(t)
		for _, name := range []string{`name="app"`, `name="repo"`} {
			for _, line := range strings.Split(page, "\n") {
				if strings.HasPrefix(line, "gotk_") && strings.Contains(line, ns) && strings.Contains(line, name) {
					return fmt.Errorf("series of a deleted object remain: %s", line)
				}
			}
		}
		return nil
	})
}

// TestRebuildOfUnchangedInputsIsACacheHit: re-applying a revision already built (a reconcile
// request, a drift correction) takes the build from --build-cache-size's cache, as
// gotk_cache_events_total reports, in the controller the manager sets up.
func TestRebuildOfUnchangedInputsIsACacheHit(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "cached", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "cached", "./app")
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)
	series := fmt.Sprintf(`gotk_cache_events_total{event_type="cache_hit",kind="Kustomization",name="cached",namespace="%s"}`, ns)
	if strings.Contains(scrape(t), series) {
		t.Fatalf("a cache hit before any rebuild: %s", series)
	}
	before := waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil).Status.LastHandledReconcileAt
	env.RequestReconcile(t, ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(k *kustomizev1.Kustomization) error {
		if k.Status.LastHandledReconcileAt == before {
			return errors.New("reconcile request not handled yet")
		}
		return nil
	})
	if page := scrape(t); !strings.Contains(page, series+" 1") {
		t.Fatalf("no cache hit for the rebuild of an unchanged revision; want %s 1 in /metrics", series)
	}
}
