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
