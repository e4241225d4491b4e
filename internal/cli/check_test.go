package cli_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheck(t *testing.T) {
	out, errOut, code := weir(t, nil, "check", "--pre")
	if code != 0 || !strings.Contains(out, "Kubernetes ") || !strings.Contains(out, "✔ Kubernetes API access") || !strings.Contains(out, "✔ prerequisites checks passed") {
		t.Fatalf("check --pre: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "checking controllers") {
		t.Errorf("check --pre checks controllers:\n%s", out)
	}
	ns := env.Namespace(t)
	out, errOut, code = weir(t, nil, "check", "-n", ns)
	if code != 1 || !strings.Contains(out, "✗ no controllers found in the '"+ns+"' namespace with the label selector 'app.kubernetes.io/part-of=weir'") ||
		!strings.Contains(errOut, "✗ check failed") {
		t.Errorf("check without a controller: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "✔ kustomizations.kustomize.toolkit.fluxcd.io/v1") || strings.Contains(out, "not established") {
		t.Errorf("check does not report the CRDs as established:\n%s", out)
	}
}

// TestCheckControllers runs check against a weir Deployment (scaled to zero: no kubelet here),
// which kube-controller-manager reports available.
func TestCheckControllers(t *testing.T) {
	ns := env.Namespace(t)
	labels := map[string]string{"app.kubernetes.io/part-of": "weir", "app.kubernetes.io/version": "v9.8.7"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "weir", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "weir"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "weir"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "ghcr.io/weirgitops/weir:v9.8.7"}}},
			},
		},
	}
	if err := env.Client.Create(t.Context(), dep); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := weir(t, nil, "check", "-n", ns, "--poll-interval", "200ms", "--timeout", "1m")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// The Kubernetes version depends on the test control plane's build.
	lines := strings.Split(out, "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, "Kubernetes ") && !strings.Contains(l, "API access") })
	golden(t, "check.golden", ns, strings.Join(lines, "\n"))
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

func TestVersionOutput(t *testing.T) {
	for _, o := range []string{"yaml", "json"} {
		out, errOut, code := weir(t, nil, "version", "--client", "-o", o)
		if code != 0 || !strings.Contains(out, "weir") {
			t.Errorf("version -o %s: exit %d, %s\n%s", o, code, errOut, out)
		}
	}
	if _, errOut, code := weir(t, nil, "version", "--client", "-o", "toml"); code == 0 || !strings.Contains(errOut, "--output must be json or yaml") {
		t.Errorf("version -o toml: exit %d, %q", code, errOut)
	}
}
