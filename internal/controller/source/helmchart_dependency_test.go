package source_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// library is a small chart to depend on.
func library(name, version string) chartrepo.Chart {
	return chartrepo.Chart{Name: name, Version: version, Files: map[string]string{
		"values.yaml":              "name: " + name + "\n",
		"templates/_name.tpl":      "{{- define \"" + name + ".name\" -}}" + name + "{{- end -}}\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n",
	}}
}

// TestHelmChartDependencies packages a Git chart whose Chart.yaml declares a file://
// dependency, one from an HTTP chart repository behind basic auth and one from an OCI registry
// behind basic auth, the credentials of both coming from HelmRepositories in the namespace with
// the same URL (spelled with and without a trailing slash); a chart vendored in charts/ is kept.
func TestHelmChartDependencies(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{Username: "helm", Password: "dep-pass-17"})
	charts.Add(t, library("redis", "1.0.0"), library("redis", "1.2.0"), library("redis", "2.0.0"))
	reg := ociregistry.New(t, ociregistry.Options{Username: "oci", Password: "oci-pass-23"})
	pushChart(t, reg, "charts/memcached", "3.0.0", chartrepo.Package(t, library("memcached", "3.0.0")))
	pushChart(t, reg, "charts/memcached", "3.1.0", chartrepo.Package(t, library("memcached", "3.1.0")))

	root := gitserver.NewRoot(t)
	root.NewRepo("charts").Commit("main", "charts", map[string]string{
		"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n" +
			"- name: common\n  version: 1.x\n  repository: file://../common\n" +
			"- name: redis\n  version: 1.x\n  repository: " + charts.URL() + "/\n" +
			"- name: redis\n  alias: cache\n  version: 1.x\n  repository: " + charts.URL() + "\n" +
			"- name: memcached\n  version: ~3.0\n  repository: " + reg.URL("charts") + "\n" +
			"- name: vendored\n  version: 2.0.0\n",
		"charts/app/templates/cm.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"charts/app/charts/vendored/Chart.yaml": "apiVersion: v2\nname: vendored\nversion: 2.0.0\n",
		"charts/common/Chart.yaml":              "apiVersion: v2\nname: common\nversion: 1.4.0\n",
		"charts/common/templates/_common.tpl":   "{{- define \"common.name\" -}}common{{- end -}}\n",
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ns := env.Namespace(t)
	createSecret(t, ns, "charts-auth", map[string][]byte{"username": []byte("helm"), "password": []byte("dep-pass-17")})
	createSecret(t, ns, "oci-auth", map[string][]byte{"username": []byte("oci"), "password": []byte("oci-pass-23")})
	httpRepo := helmRepository(ns, "deps", charts.URL())
	httpRepo.Spec.SecretRef = &meta.LocalObjectReference{Name: "charts-auth"}
	create(t, httpRepo)
	ociRepo := helmRepository(ns, "oci-deps", reg.URL("charts")+"/")
	ociRepo.Spec.Type = sourcev1.HelmRepositoryTypeOCI
	ociRepo.Spec.Insecure = true
	ociRepo.Spec.SecretRef = &meta.LocalObjectReference{Name: "oci-auth"}
	create(t, ociRepo)
	create(t, newGitRepository(ns, "charts", srv.RepoURL("charts"), &sourcev1.GitRepositoryRef{Branch: "main"}, ""))

	hc := helmChart(ns, "app", "./charts/app", "", sourcev1.GitRepositoryKind, "charts")
	create(t, hc)
	ready := waitReadyOf(t, hc, metav1.ConditionTrue, nil)
	if ready.Reason != "ChartPackageSucceeded" || ready.Message != "packaged 'app' chart with version '0.1.0'" {
		t.Errorf("Ready %s %q", ready.Reason, ready.Message)
	}
	files := tgzFiles(t, fetchStored(t, hc.Status.Artifact))
	for dep, version := range map[string]string{"common": "1.4.0", "redis": "1.2.0", "memcached": "3.0.0", "vendored": "2.0.0"} {
		if meta := files["app/charts/"+dep+"/Chart.yaml"]; !strings.Contains(meta, "version: "+version) {
			t.Errorf("packaged chart: %s Chart.yaml %q, want version %s", dep, meta, version)
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "app/charts/cache/") {
			t.Errorf("alias packaged as a chart of its own: %s", name)
		}
	}
	if !strings.Contains(files["app/charts/redis/templates/_name.tpl"], "redis.name") {
		t.Errorf("redis templates missing from the package: %v", keys(files))
	}
}

// TestHelmChartDependencyErrors: a dependency that cannot be built leaves the chart Ready=False
// with Flux's reason DependencyBuildError (in BuildFailed, retried, not stalled) and a message
// naming the dependency: a file:// path leaving the source, a local dependency without a
// version, a version the repository lacks, a repository needing credentials no HelmRepository
// gives, a Helm repository alias.
func TestHelmChartDependencyErrors(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, library("redis", "1.0.0"))
	locked := chartrepo.New(t, chartrepo.Options{Username: "u", Password: "never-given-5"})
	locked.Add(t, library("redis", "1.0.0"))
	chartYAML := func(name, deps string) string {
		return "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\ndependencies:\n" + deps
	}
	root := gitserver.NewRoot(t)
	root.NewRepo("charts").Commit("main", "charts", map[string]string{
		"charts/escape/Chart.yaml":    chartYAML("escape", "- name: passwd\n  version: 1.x\n  repository: file://../../../../etc\n"),
		"charts/noversion/Chart.yaml": chartYAML("noversion", "- name: common\n  repository: file://../common\n"),
		"charts/nomatch/Chart.yaml":   chartYAML("nomatch", "- name: redis\n  version: 9.x\n  repository: "+charts.URL()+"\n"),
		"charts/nocreds/Chart.yaml":   chartYAML("nocreds", "- name: redis\n  version: 1.x\n  repository: "+locked.URL()+"\n"),
		"charts/aliased/Chart.yaml":   chartYAML("aliased", "- name: redis\n  version: 1.x\n  repository: '@stable'\n"),
		"charts/common/Chart.yaml":    "apiVersion: v2\nname: common\nversion: 1.4.0\n",
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ns := env.Namespace(t)
	gitRepo := newGitRepository(ns, "charts", srv.RepoURL("charts"), &sourcev1.GitRepositoryRef{Branch: "main"}, "")
	create(t, gitRepo)
	// The charts are built once the source has an artifact; before, they wait with
	// NoSourceArtifact, which is not what this test is about.
	waitReadyOf(t, gitRepo, metav1.ConditionTrue, nil)

	cases := []struct{ chart, msg string }{
		{"escape", "dependency build error: failed to add local dependency 'passwd': path leaves the source: 'file://../../../../etc'"},
		{"noversion", "dependency build error: failed to add local dependency 'common': invalid version/constraint format ''"},
		{"nomatch", fmt.Sprintf("dependency build error: failed to add remote dependency 'redis': failed to get chart 'redis' version '9.x' from '%s': chart not found: no 'redis' chart with version matching '9.x' found", charts.URL())},
		{"nocreds", "dependency build error: failed to add remote dependency 'redis': failed to get chart 'redis' version '1.x' from"},
		{"aliased", "dependency build error: failed to add dependency 'redis': aliased repository dependency is not supported: '@stable'"},
	}
	for _, c := range cases {
		hc := helmChart(ns, c.chart, "./charts/"+c.chart, "", sourcev1.GitRepositoryKind, "charts")
		create(t, hc)
		ready := waitReadyOf(t, hc, metav1.ConditionFalse, nil)
		build := apimeta.FindStatusCondition(hc.Status.Conditions, "BuildFailed")
		if ready.Reason != "DependencyBuildError" || !strings.HasPrefix(ready.Message, c.msg) || build == nil ||
			build.Reason != "DependencyBuildError" || apimeta.IsStatusConditionTrue(hc.Status.Conditions, "Stalled") {
			t.Errorf("%s: Ready %s %q, BuildFailed %+v; want DependencyBuildError %q, not stalled", c.chart, ready.Reason, ready.Message, build, c.msg)
		}
		if c.chart == "nocreds" && !strings.Contains(ready.Message, "401 Unauthorized") {
			t.Errorf("nocreds: Ready %q, want the repository's refusal", ready.Message)
		}
		if hc.Status.Artifact != nil {
			t.Errorf("%s: artifact stored: %+v", c.chart, hc.Status.Artifact)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
