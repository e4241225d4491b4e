package cli_test

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestExport(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	var r sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "podinfo"}, &r); err != nil {
		t.Fatal(err)
	}
	r.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "a"}
	r.Finalizers = []string{"finalizers.fluxcd.io"}
	r.Spec.SecretRef = &meta.LocalObjectReference{Name: "podinfo-auth"}
	if err := env.Client.Update(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "podinfo-auth", Namespace: ns}, StringData: map[string]string{"username": "u"}}
	if err := env.Client.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := weir(t, nil, "export", "source", "git", "podinfo", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "export_source_git.golden", ns, out)
	for _, bad := range []string{"status:", "managedFields", "uid:", "resourceVersion", "generation", "creationTimestamp", "finalizers", "last-applied"} {
		if strings.Contains(out, bad) {
			t.Errorf("export contains %q", bad)
		}
	}

	out, errOut, code = weir(t, nil, "export", "source", "git", "--all", "--with-credentials", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "---\n"); n != 4 {
		t.Errorf("export --all --with-credentials printed %d documents, want 4 (3 repositories, 1 secret):\n%s", n, out)
	}
	out, _, code = weir(t, nil, "export", "ks", "apps", "-n", ns)
	if code != 0 || !strings.Contains(out, "kind: Kustomization") {
		t.Errorf("export ks: exit %d:\n%s", code, out)
	}
}
