package cli_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// helloChart renders a ConfigMap greeting with the chart's version.
func helloChart(version string) chartrepo.Chart {
	return chartrepo.Chart{Name: "hello", Version: version, Files: map[string]string{
		"values.yaml": "greeting: hello\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n" +
			"  greeting: {{ .Values.greeting | quote }}\n  chart: {{ .Chart.Version | quote }}\n",
	}}
}

// pushChart pushes a packaged chart as helm push does.
func pushChart(t *testing.T, reg *ociregistry.Registry, repo string, c chartrepo.Chart) {
	t.Helper()
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json"),
		mutate.Addendum{Layer: static.NewLayer(chartrepo.Package(t, c), oci.HelmChartContentMediaType)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := oci.ParseArtifact(reg.URL(repo)+":"+c.Version, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
}

// fleet is a repository as people lay them out: the bootstrap sync Kustomization; a
// per-namespace Kustomization that declares the namespace, its variables, and the per-app
// Kustomizations (a component, a patch, substitution from the namespace's ConfigMap); a
// HelmRelease from a chart repository and one from an OCI registry.
func fleet(ns, chartURL, ociURL string) map[string]string {
	ks := func(name, path, extra string) string {
		return fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s\n  namespace: %s\n"+
			"spec:\n  interval: 1h\n  path: %s\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n%s", name, ns, path, extra)
	}
	return map[string]string{
		"clusters/prod/tenants.yaml": ks("team-a", "./tenants/team-a", ""),
		// A Kustomization of another repository: resolved from the cluster's artifact in live
		// mode, reported as unresolved offline.
		"clusters/prod/shared.yaml": strings.Replace(ks("shared", "./", "  targetNamespace: "+ns+"\n"), "name: fleet", "name: shared", 1),
		"tenants/team-a/vars.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team-vars\n  namespace: " + ns + "\ndata:\n  color: blue\n",
		"tenants/team-a/apps.yaml": ks("web", "./apps/web", "  targetNamespace: "+ns+"\n  dependsOn:\n  - name: team-a\n"+
			"  components:\n  - ../../components/ha\n  patches:\n  - patch: |\n      - op: add\n        path: /metadata/labels\n        value: {team: a}\n    target:\n      kind: ConfigMap\n"+
			"  postBuild:\n    substitute:\n      env: prod\n    substituteFrom:\n    - kind: ConfigMap\n      name: team-vars\n"),
		"tenants/team-a/helm.yaml": fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: %[1]s
spec:
  interval: 1h
  url: %[2]s
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
  namespace: %[1]s
spec:
  interval: 1h
  chart:
    spec:
      chart: hello
      version: "1.0.0"
      sourceRef:
        kind: HelmRepository
        name: charts
  values:
    greeting: bonjour
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: hello-oci
  namespace: %[1]s
spec:
  interval: 1h
  url: %[3]s
  ref:
    tag: "1.0.0"
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello-oci
  namespace: %[1]s
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: hello-oci
  valuesFrom:
  - kind: ConfigMap
    name: team-vars
    valuesKey: color
    targetPath: greeting
`, ns, chartURL, ociURL),
		"components/ha/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 3\n  target:\n    kind: Deployment\n",
		"apps/web/kustomization.yaml":      "resources: [deploy.yaml, settings.yaml, legacy.yaml]\n",
		"apps/web/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n" +
			"  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n",
		"apps/web/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: ${color}\n  env: ${env}\n",
		"apps/web/legacy.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  old: \"true\"\n",
	}
}

// headChange changes the fleet: a new image, a changed variable, a ConfigMap removed and one
// added, the chart repository's release moved to 1.1.0.
func headChange(ns string, files map[string]string) map[string]string {
	return map[string]string{
		"apps/web/deploy.yaml":        strings.Replace(files["apps/web/deploy.yaml"], "nginx:1.25", "nginx:1.27", 1),
		"tenants/team-a/vars.yaml":    strings.Replace(files["tenants/team-a/vars.yaml"], "blue", "green", 1),
		"apps/web/kustomization.yaml": "resources: [deploy.yaml, settings.yaml, feature.yaml]\n",
		"apps/web/legacy.yaml":        gitserver.Deleted,
		"apps/web/feature.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: feature\ndata:\n  flag: \"on\"\n",
		"tenants/team-a/helm.yaml":    strings.Replace(files["tenants/team-a/helm.yaml"], `version: "1.0.0"`, `version: "1.1.0"`, 1),
	}
}

// planRepo serves the fleet with a base and a head commit, and returns a clone at head.
func planRepo(t *testing.T, ns string) (repo *gitserver.Repo, srv *gitserver.HTTPServer, clone, base string, head map[string]string) {
	t.Helper()
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, helloChart("1.0.0"), helloChart("1.1.0"))
	reg := ociregistry.New(t, ociregistry.Options{})
	pushChart(t, reg, "charts/hello", helloChart("1.0.0"))
	files := fleet(ns, charts.URL(), reg.URL("charts/hello"))
	root := gitserver.NewRoot(t)
	repo = root.NewRepo("fleet")
	base = repo.Commit("main", "base", files)
	head = headChange(ns, files)
	repo.Commit("main", "head", head)
	clone = filepath.Join(t.TempDir(), "fleet")
	if out, err := exec.Command("git", "clone", "-q", "-b", "main", repo.Dir, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	return repo, root.ServeHTTP(gitserver.HTTPOptions{}), clone, base, head
}

// TestPlanOffline plans the head commit against the base commit with no cluster: every format
// is pinned by a golden file.
func TestPlanOffline(t *testing.T) {
	const ns = "fleet"
	_, _, clone, base, _ := planRepo(t, ns)
	// The root is the fleet repository's sync Kustomization, as bootstrap writes it.
	args := []string{"plan", clone, "--kustomization-file", syncFile(t, ns), "--base", base, "--no-color"}
	for _, format := range []string{"human", "markdown", "json"} {
		t.Run(format, func(t *testing.T) {
			out, errOut, code := weirOffline(t, append(args, "-o", format)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (changes): %s\n%s", code, errOut, out)
			}
			// The OCI chart's digest (in its version, as the controller releases it) changes
			// with every packaging.
			out = regexp.MustCompile(`\+[0-9a-f]{12}\b`).ReplaceAllString(out, "+DIGEST")
			golden(t, "plan_"+format+".golden", base, out)
		})
	}
	t.Run("what the plan says", func(t *testing.T) {
		out, _, _ := weirOffline(t, append(args, "-o", "json")...)
		var p struct {
			Units []struct {
				Kind, Name, Status string
				Changes            []struct{ Action, Object string }
			}
			Problems []any
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, u := range p.Units {
			for _, c := range u.Changes {
				if c.Action != "unchanged" {
					got[c.Object] = c.Action
				}
			}
		}
		want := map[string]string{
			"Deployment/fleet/web":               "changed", // image
			"ConfigMap/fleet/settings":           "changed", // substituteFrom value
			"ConfigMap/fleet/team-vars":          "changed",
			"ConfigMap/fleet/legacy":             "pruned",
			"ConfigMap/fleet/feature":            "created",
			"ConfigMap/fleet/hello-greeting":     "changed", // chart 1.1.0
			"HelmRelease/fleet/hello":            "changed",
			"ConfigMap/fleet/hello-oci-greeting": "changed", // valuesFrom team-vars
		}
		for obj, action := range want {
			if got[obj] != action {
				t.Errorf("%s: %q, want %q (plan: %v)", obj, got[obj], action, got)
			}
		}
		if len(p.Problems) != 0 {
			t.Errorf("problems: %v", p.Problems)
		}
	})
}

// TestPlanChecks plans checkouts with each kind of problem: every one is reported with its
// file and object, and the exit code is 2.
func TestPlanChecks(t *testing.T) {
	dir := t.TempDir()
	ks := func(name, path, extra string) string {
		return fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s\n  namespace: flux-system\n"+
			"spec:\n  interval: 1h\n  path: %s\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n%s", name, path, extra)
	}
	writeFiles(t, dir, map[string]string{
		"root/a.yaml": ks("a", "./a", "  dependsOn:\n  - name: b\n"),
		"root/b.yaml": ks("b", "./b", "  dependsOn:\n  - name: a\n"),
		"root/c.yaml": ks("c", "./c", "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: missing-vars\n"),
		"root/d.yaml": ks("d", "./d", ""),
		"root/e.yaml": ks("e", "./e", "  postBuild:\n    substitute:\n      known: x\n"),
		"root/f.yaml": ks("f", "./f", ""),
		"e/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\n  namespace: default\ndata:\n  a: ${known}\n  b: ${undefined_var}\n",
		"f/hr.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: local\n  namespace: default\nspec:\n  interval: 1h\n" +
			"  chart:\n    spec:\n      chart: ./charts/local\n      sourceRef:\n        kind: GitRepository\n        name: flux-system\n        namespace: flux-system\n" +
			"  valuesFrom:\n  - kind: ConfigMap\n    name: no-such-values\n",
		"charts/local/Chart.yaml":        "apiVersion: v2\nname: local\nversion: 0.1.0\n",
		"charts/local/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
		"a/cm.yaml":                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n  x: \"1\"\n",
		"b/cm.yaml":                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n  x: \"2\"\n",
		"c/cm.yaml":                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\n",
		"d/deploy.yaml":                  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  replicas: \"two\"\n  selector: {}\n  template: {}\n",
		"d/ks.yaml":                      "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: typo\n  namespace: default\nspec:\n  interval: 1h\n  pruning: true\n  sourceRef: {kind: GitRepository, name: x}\n",
		"d/secret.yaml":                  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\n  namespace: default\nstringData:\n  token: s3cr3t-in-git\n",
	})
	out, errOut, code := weirOffline(t, "plan", dir, "--path", "root", "--no-color")
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"[cycle]", "Kustomization/flux-system/a → Kustomization/flux-system/b → Kustomization/flux-system/a",
		"[claim] b/cm.yaml Kustomization/flux-system/b ConfigMap/default/shared: also applied by Kustomization/flux-system/a (a/cm.yaml)",
		"[reference] c Kustomization/flux-system/c: substitute from 'ConfigMap/missing-vars' failed",
		"[schema] d/deploy.yaml Kustomization/flux-system/d Deployment/default/bad:",
		"[schema] d/ks.yaml Kustomization/flux-system/d Kustomization/default/typo: unknown field \"spec.pruning\"",
		"[unencrypted] d/secret.yaml Kustomization/flux-system/d Secret/default/plain",
		"[substitution] e Kustomization/flux-system/e:",
		"undefined_var",
		"[reference] f/hr.yaml HelmRelease/default/local: could not find ConfigMap 'default/no-such-values'",
		"[substitution] e Kustomization/flux-system/e:",
		"undefined_var",
		"[reference] f/hr.yaml HelmRelease/default/local: could not find ConfigMap 'default/no-such-values'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t-in-git") {
		t.Errorf("plan prints a Secret value:\n%s", out)
	}
}

// TestPlanLiveMatchesControllers plans the head commit against a cluster that runs the base
// commit, pushes the head, and checks the controllers did what the plan said: then a new plan
// against the cluster finds nothing left to change.
func TestPlanLiveMatchesControllers(t *testing.T) {
	ns := env.Namespace(t)
	repo, srv, clone, base, _ := planRepo(t, ns)
	// The cluster runs the base commit.
	repo.Git("update-ref", "refs/heads/live", base)
	startController(t)
	run := func(args ...string) {
		t.Helper()
		if out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "3m")...); code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	shared := gitserver.NewRoot(t)
	shared.NewRepo("shared").Commit("main", "shared", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared-settings\ndata:\n  a: b\n"})
	sharedSrv := shared.ServeHTTP(gitserver.HTTPOptions{})
	run("create", "source", "git", "shared", "--url", sharedSrv.RepoURL("shared"), "--branch", "main", "--interval", "1h")
	run("create", "source", "git", "fleet", "--url", srv.RepoURL("fleet"), "--branch", "live", "--interval", "1h")
	run("create", "kustomization", "fleet", "--source", "GitRepository/fleet", "--path", "./clusters/prod", "--prune", "--interval", "1h")
	waitReady := func() {
		t.Helper()
		for _, name := range []string{"fleet", "team-a", "web", "shared"} {
			waitKsRevision(t, ns, name)
		}
	}
	waitReady()
	planArgs := []string{"plan", clone, "--kustomization-file", syncFile(t, ns), "--cluster", "-o", "json", "-n", ns}
	out, errOut, code := weir(t, nil, planArgs...)
	if code != 1 {
		t.Fatalf("live plan: exit %d, want 1: %s\n%s", code, errOut, out)
	}
	var p struct {
		Units []struct {
			Kind, Name, Status string
			Changes            []struct{ Action, Object string }
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Units {
		if u.Name == "shared" && (u.Status != "unchanged" || len(u.Changes) != 1 || u.Changes[0].Object != "ConfigMap/"+ns+"/shared-settings") {
			t.Errorf("the shared repository's Kustomization, from its artifact in the cluster: %+v", u)
		}
	}
	predicted := map[string]string{}
	for _, u := range p.Units {
		for _, c := range u.Changes {
			if c.Action != "unchanged" {
				predicted[c.Object] = c.Action
			}
		}
	}
	for obj, action := range map[string]string{
		"Deployment/" + ns + "/web": "changed", "ConfigMap/" + ns + "/settings": "changed",
		"ConfigMap/" + ns + "/legacy": "pruned", "ConfigMap/" + ns + "/feature": "created",
		// The HelmRelease's chart moves to 1.1.0, the OCI one's value follows team-vars.
		"ConfigMap/" + ns + "/hello-greeting": "changed", "ConfigMap/" + ns + "/hello-oci-greeting": "changed",
	} {
		if predicted[obj] != action {
			t.Errorf("plan says %s %q, want %q (plan: %v)", obj, predicted[obj], action, predicted)
		}
	}

	// Merge: the cluster's branch moves to the head commit.
	repo.Git("update-ref", "refs/heads/live", repo.Rev("main"))
	run("reconcile", "kustomization", "fleet", "--with-source")
	testenv.Eventually(t, 2*time.Minute, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "feature"}, &cm); err != nil {
			return err
		}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, &cm); err != nil || cm.Data["color"] != "green" {
			return fmt.Errorf("settings = %v (%w)", cm.Data, err)
		}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "legacy"}, &cm); err == nil {
			return fmt.Errorf("legacy still there")
		}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "hello-greeting"}, &cm); err != nil || cm.Data["chart"] != "1.1.0" {
			return fmt.Errorf("hello-greeting = %v (%w)", cm.Data, err)
		}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "hello-oci-greeting"}, &cm); err != nil || cm.Data["greeting"] != "green" {
			return fmt.Errorf("hello-oci-greeting = %v (%w)", cm.Data, err)
		}
		return nil
	})
	// What the plan predicted is done: a new plan finds no Kustomization change left.
	testenv.Eventually(t, time.Minute, func() error {
		out, errOut, code := weir(t, nil, planArgs...)
		if code == 2 {
			return fmt.Errorf("plan failed: %s %s", errOut, out)
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return err
		}
		for _, u := range p.Units {
			for _, c := range u.Changes {
				if c.Action != "unchanged" {
					return fmt.Errorf("after the merge the plan still says %s %s", c.Object, c.Action)
				}
			}
		}
		return nil
	})
}

// waitKsRevision waits until a Kustomization is Ready.
func waitKsRevision(t *testing.T, ns, name string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, func() error {
		out, _, code := weir(t, nil, "get", "kustomization", name, "-n", ns, "--no-header")
		if code != 0 || !strings.Contains(out, "True") {
			return fmt.Errorf("Kustomization %s: %q", name, out)
		}
		return nil
	})
}

// syncFile writes the fleet's root Kustomization, as bootstrap writes it, and returns its path.
func syncFile(t *testing.T, ns string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"sync.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n" +
		"metadata:\n  name: fleet\n  namespace: " + ns + "\nspec:\n  interval: 1h\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n"})
	return filepath.Join(dir, "sync.yaml")
}
