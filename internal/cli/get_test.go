package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const rev1 = "main@sha1:1111111111111111111111111111111111111111"

// seed creates, in ns, a Ready GitRepository, a failing one, a suspended one and a Ready
// Kustomization.
func seed(t *testing.T, ns string) {
	t.Helper()
	ok := gitRepo(t, ns, "podinfo", false)
	setReady(t, ok, &ok.Status.Conditions, metav1.ConditionTrue, "Succeeded", "stored artifact for revision '"+rev1+"'",
		func() { ok.Status.Artifact = artifact(rev1) })
	bad := gitRepo(t, ns, "broken", false)
	setReady(t, bad, &bad.Status.Conditions, metav1.ConditionFalse, "AuthenticationFailed", "authentication required", nil)
	gitRepo(t, ns, "paused", true)
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Minute}, Path: "./apps", Prune: true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "podinfo"}},
	}
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	setReady(t, ks, &ks.Status.Conditions, metav1.ConditionTrue, "ReconciliationSucceeded", "Applied revision: "+rev1,
		func() { ks.Status.LastAppliedRevision = rev1 })
}

func TestGetTables(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	cases := []struct {
		name, golden string
		args         []string
	}{
		{"sources git", "get_sources_git.golden", []string{"get", "sources", "git"}},
		{"ks alias", "get_kustomizations.golden", []string{"get", "ks"}},
		{"status selector", "get_sources_git_not_ready.golden", []string{"get", "sources", "git", "--status-selector", "ready=false"}},
		{"one by name", "get_source_git_podinfo.golden", []string{"get", "source", "git", "podinfo"}},
		{"all", "get_all.golden", []string{"get", "all"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := weir(t, nil, append(tc.args, "-n", ns)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.golden, ns, out)
		})
	}
}

func TestGetAllNamespacesAndOutput(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	out, errOut, code := weir(t, nil, "get", "ks", "-A")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if f := strings.Fields(lines[0]); len(f) < 2 || f[0] != "NAMESPACE" || f[1] != "NAME" {
		t.Errorf("header = %q, want NAMESPACE NAME first", lines[0])
	}
	if !strings.Contains(out, ns) {
		t.Errorf("-A output lacks namespace %s:\n%s", ns, out)
	}

	out, errOut, code = weir(t, nil, "get", "sources", "git", "podinfo", "-n", ns, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil || obj["kind"] != "GitRepository" {
		t.Fatalf("-o json = %v %v", obj["kind"], err)
	}

	_, errOut, code = weir(t, nil, "get", "sources", "git", "missing", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "missing") {
		t.Errorf("get of a missing object: exit %d, %q", code, errOut)
	}
	_, errOut, code = weir(t, nil, "get", "hr", "-n", ns)
	if code != 0 || !strings.Contains(errOut, "no HelmRelease objects found") {
		t.Errorf("empty get: exit %d, %q", code, errOut)
	}
}

func TestGetLabelSelector(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	var repo sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "broken"}, &repo); err != nil {
		t.Fatal(err)
	}
	repo.Labels = map[string]string{"team": "a"}
	if err := env.Client.Update(t.Context(), &repo); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"get", "sources", "git", "-l", "team=a"}, {"get", "sources", "all", "--label-selector", "team in (a,b)"}} {
		out, errOut, code := weir(t, nil, append(args, "-n", ns)...)
		if code != 0 || !strings.Contains(out, "broken") || strings.Contains(out, "podinfo") || strings.Contains(out, "paused") {
			t.Errorf("%v: exit %d, %s\n%s", args, code, errOut, out)
		}
	}
	if _, errOut, code := weir(t, nil, "get", "ks", "-l", "a==b==c", "-n", ns); code == 0 || !strings.Contains(errOut, "unable to parse label selector") {
		t.Errorf("invalid selector: exit %d, %q", code, errOut)
	}
}
