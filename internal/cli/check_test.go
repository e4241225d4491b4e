package cli_test

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	out, errOut, code := weir(t, nil, "check", "--pre")
	if code != 0 || !strings.Contains(out, "Kubernetes ") || !strings.Contains(out, "✔ Kubernetes API access") || !strings.Contains(out, "✔ prerequisites checks passed") {
		t.Fatalf("check --pre: exit %d\n%s%s", code, out, errOut)
	}
	ns := env.Namespace(t)
	out, errOut, code = weir(t, nil, "check", "-n", ns)
	if code == 0 || !strings.Contains(out, "✗ weir: get deployment "+ns+"/weir") {
		t.Errorf("check without a controller: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "✔ kustomizations.kustomize.toolkit.fluxcd.io/v1") || strings.Contains(out, "not established") {
		t.Errorf("check does not report the CRDs as established:\n%s", out)
	}
}

func TestStats(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	out, errOut, code := weir(t, nil, "stats", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "stats.golden", ns, out)
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_weir", "zsh": "#compdef weir", "fish": "complete -c weir"} {
		out, errOut, code := weir(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, lacks %q: %s", shell, code, want, errOut)
		}
	}
}
