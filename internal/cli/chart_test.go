package cli_test

import (
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/testenv/chartrepo"
)

// TestChartSourcesWithController creates a HelmRepository and a HelmChart with the CLI against
// `weir controller` and reads them back.
func TestChartSourcesWithController(t *testing.T) {
	ns := env.Namespace(t)
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, chartrepo.Chart{Name: "hello", Version: "1.0.0", Files: map[string]string{
		"values.yaml": "greeting: hi\n", "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n"}},
		chartrepo.Chart{Name: "hello", Version: "1.1.0", Files: map[string]string{"values.yaml": "greeting: hello\n"}})
	startController(t)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...)
		if code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	out := run("create", "source", "helm", "charts", "--url", charts.URL(), "--interval", "1h")
	if !strings.Contains(out, "✔ fetched revision sha256:") {
		t.Errorf("create source helm:\n%s", out)
	}
	out = run("create", "source", "chart", "hello", "--source", "HelmRepository/charts", "--chart", "hello", "--chart-version", "1.x", "--interval", "1h")
	if !strings.Contains(out, "✔ fetched revision 1.1.0") {
		t.Errorf("create source chart:\n%s", out)
	}
	out = run("get", "sources", "chart")
	if !strings.Contains(out, "hello") || !strings.Contains(out, "pulled 'hello' chart with version '1.1.0'") {
		t.Errorf("get sources chart:\n%s", out)
	}
	out = run("get", "sources", "helm")
	if !strings.Contains(out, "charts") || !strings.Contains(out, "stored artifact: revision 'sha256:") {
		t.Errorf("get sources helm:\n%s", out)
	}
	charts.Add(t, chartrepo.Chart{Name: "hello", Version: "1.2.0", Files: map[string]string{"values.yaml": "greeting: hey\n"}})
	out = run("reconcile", "source", "chart", "hello", "--with-source")
	if !strings.Contains(out, "✔ fetched revision 1.2.0") {
		t.Errorf("reconcile source chart --with-source:\n%s", out)
	}
}

// TestBuildDiffHelmRelease renders a HelmRelease as the controller installs it and compares a
// local change of its chart with the cluster.
func TestBuildDiffHelmRelease(t *testing.T) {
	ns := env.Namespace(t)
	tpl := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n"
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, chartrepo.Chart{Name: "hello", Version: "1.0.0", Files: map[string]string{"values.yaml": "greeting: hi\n", "templates/cm.yaml": tpl}})
	startController(t)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...)
		if code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("create", "source", "helm", "charts", "--url", charts.URL(), "--interval", "1h")
	run("create", "helmrelease", "hello", "--source", "HelmRepository/charts", "--chart", "hello", "--interval", "1h")

	out := run("build", "helmrelease", "hello")
	for _, want := range []string{"kind: ConfigMap", "name: hello", "greeting: hi", "helm.toolkit.fluxcd.io/name: hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("build helmrelease lacks %q:\n%s", want, out)
		}
	}
	out = run("trace", "configmap/hello")
	for _, want := range []string{"HelmRelease:", "hello", "HelmChart:", ns + "-hello", "HelmRepository:", "charts"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace of a released object lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code := weir(t, nil, "diff", "helmrelease", "hello", "-n", ns)
	if code != 0 {
		t.Errorf("diff of the released chart: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: hello\nversion: 1.1.0\n",
		"values.yaml":       "greeting: hi\n",
		"templates/cm.yaml": strings.Replace(tpl, "greeting:", "farewell: bye\n  greeting:", 1),
	})
	out, errOut, code = weir(t, nil, "diff", "helmrelease", "hello", "-n", ns, "--chart", dir)
	if code != 1 || !strings.Contains(out, "► ConfigMap/"+ns+"/hello drifted") || !strings.Contains(out, "farewell") {
		t.Errorf("diff of a changed chart: exit %d\n%s%s", code, out, errOut)
	}
}
