package kustomize_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
