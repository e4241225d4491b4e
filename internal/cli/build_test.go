package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// buildFixture creates a Kustomization with a target namespace, a name prefix and post-build
// substitution from a ConfigMap, and a local directory for it.
func buildFixture(t *testing.T, ns string) string {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-vars", Namespace: ns}, Data: map[string]string{"env": "prod"}}
	if err := env.Client.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Minute}, Path: "./apps", Prune: true,
			TargetNamespace: ns, NamePrefix: "prod-",
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "podinfo"},
			PostBuild: &kustomizev1.PostBuild{Substitute: map[string]string{"team": "web"},
				SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "cluster-vars"}}}},
	}
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- config.yaml\n",
		"config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  env: ${env}\n  team: ${team}\n  region: ${region:=eu}\n",
	})
	return dir
}

func TestBuildKustomization(t *testing.T) {
	ns := env.Namespace(t)
	dir := buildFixture(t, ns)
	out, errOut, code := weir(t, nil, "build", "kustomization", "apps", "--path", dir, "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "build_kustomization.golden", ns, out)

	_, errOut, code = weir(t, nil, "build", "ks", "missing", "--path", dir, "-n", ns)
	if code == 0 || !strings.Contains(errOut, "missing") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("build of a missing Kustomization: exit %d, %q", code, errOut)
	}
}

func TestDiffKustomization(t *testing.T) {
	ns := env.Namespace(t)
	dir := buildFixture(t, ns)

	if _, errOut, code := weir(t, nil, "diff", "ks", "missing", "--path", dir, "-n", ns); code != 2 || !strings.Contains(errOut, "missing") {
		t.Errorf("diff of a missing Kustomization: exit %d, want 2: %q", code, errOut)
	}

	out, errOut, code := weir(t, nil, "diff", "kustomization", "apps", "--path", dir, "-n", ns)
	if code != 1 || !strings.Contains(out, "✚ ConfigMap/"+ns+"/prod-settings created") {
		t.Fatalf("diff before apply: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Apply the build as the controller would, then diff again: no changes.
	built, errOut, code := weir(t, nil, "build", "kustomization", "apps", "--path", dir, "-n", ns)
	if code != 0 {
		t.Fatalf("build: exit %d: %s", code, errOut)
	}
	applyAs(t, built, "kustomize-controller")
	out, errOut, code = weir(t, nil, "diff", "kustomization", "apps", "--path", dir, "-n", ns)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("diff after apply: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A changed value is drift; an inventory object that left the build would be pruned.
	writeFiles(t, dir, map[string]string{
		"config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  env: ${env}\n  team: ${team}\n  region: us\n",
	})
	stale := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: ns, Labels: map[string]string{
		"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": ns}}}
	if err := env.Client.Create(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	var ks kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "apps"}, &ks); err != nil {
		t.Fatal(err)
	}
	ks.Status.Inventory = &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{
		{ID: ns + "_prod-settings__ConfigMap", Version: "v1"}, {ID: ns + "_old__ConfigMap", Version: "v1"}}}
	if err := env.Client.Status().Update(t.Context(), &ks); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = weir(t, nil, "diff", "kustomization", "apps", "--path", dir, "-n", ns)
	if code != 1 {
		t.Fatalf("diff with drift: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"► ConfigMap/" + ns + "/prod-settings drifted", "us", "► ConfigMap/" + ns + "/old deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff output lacks %q:\n%s", want, out)
		}
	}
}

// applyAs server-side applies YAML documents with a field manager.
func applyAs(t *testing.T, docs, manager string) {
	t.Helper()
	for _, u := range decodeDocs(t, docs) {
		if err := env.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s: %v", u.GetName(), err)
		}
	}
}
