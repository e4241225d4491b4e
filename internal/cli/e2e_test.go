package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// startController runs `weir controller` against the test control plane with JSON logs
// written to the returned file, until the test ends.
func startController(t *testing.T) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "weir.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	runController(t, t.TempDir(), logFile)
	return logPath
}

// TestCreateReconcileWithController runs the CLI against the real GitRepository controller:
// create waits for the first artifact, reconcile for the next commit, and logs reads what the
// controller wrote.
func TestCreateReconcileWithController(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("podinfo")
	first := repo.Commit("main", "init", map[string]string{"apps/cm.yaml": "kind: ConfigMap\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	logPath := startController(t)

	out, errOut, code := weir(t, nil, "create", "source", "git", "podinfo", "--url", srv.RepoURL("podinfo"),
		"--branch", "main", "--interval", "1h", "-n", ns, "--timeout", "2m")
	if code != 0 {
		t.Fatalf("create source git: exit %d\n%s%s", code, out, errOut)
	}
	if want := "✔ fetched revision main@sha1:" + first; !strings.Contains(out, want) {
		t.Errorf("create output lacks %q:\n%s", want, out)
	}

	second := repo.Commit("main", "second", map[string]string{"apps/cm.yaml": "kind: ConfigMap\n# 2\n"})
	out, errOut, code = weir(t, nil, "reconcile", "source", "git", "podinfo", "-n", ns, "--timeout", "2m")
	if code != 0 {
		t.Fatalf("reconcile source git: exit %d\n%s%s", code, out, errOut)
	}
	if want := "✔ fetched revision main@sha1:" + second; !strings.Contains(out, want) {
		t.Errorf("reconcile output lacks %q:\n%s", want, out)
	}

	out, errOut, code = weir(t, nil, "get", "sources", "git", "-n", ns)
	if code != 0 || !strings.Contains(out, "main@sha1:"+second) {
		t.Errorf("get sources git: exit %d\n%s%s", code, out, errOut)
	}

	testenv.Eventually(t, 30*time.Second, func() error {
		out, errOut, code := weir(t, nil, "logs", "--from-file", logPath, "--kind", "GitRepository", "--name", "podinfo", "-n", ns)
		if code != 0 {
			return fmt.Errorf("logs: exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "GitRepository/podinfo."+ns+" - ") {
			return fmt.Errorf("logs lack the GitRepository's lines:\n%s", out)
		}
		return nil
	})
}

// TestKustomizationPipelineWithController drives a whole pipeline through the CLI against the
// real controllers: create source and Kustomization, then tree, trace and diff what it applied.
func TestKustomizationPipelineWithController(t *testing.T) {
	ns := env.Namespace(t)
	files := map[string]string{
		"apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n",
		"apps/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  env: ${env:=dev}\n",
	}
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("fleet")
	rev := repo.Commit("main", "init", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	startController(t)

	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...)
		if code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("create", "source", "git", "fleet", "--url", srv.RepoURL("fleet"), "--branch", "main", "--interval", "1h")
	out := run("create", "kustomization", "apps", "--source", "GitRepository/fleet", "--path", "./apps",
		"--prune", "--target-namespace", ns, "--interval", "1h")
	if want := "✔ applied revision main@sha1:" + rev; !strings.Contains(out, want) {
		t.Errorf("create kustomization output lacks %q:\n%s", want, out)
	}

	out = run("tree", "kustomization", "apps")
	if want := "Kustomization/" + ns + "/apps\n└── ConfigMap/" + ns + "/settings\n"; out != want {
		t.Errorf("tree = %q, want %q", out, want)
	}
	out = run("trace", "configmap/settings")
	for _, want := range []string{"Kustomization:  apps", "GitRepository:  fleet", "Revision:       main@sha1:" + rev} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"kustomization.yaml": files["apps/kustomization.yaml"], "cm.yaml": files["apps/cm.yaml"]})
	if out, errOut, code := weir(t, nil, "diff", "ks", "apps", "--path", dir, "-n", ns); code != 0 {
		t.Errorf("diff of the applied tree: exit %d\n%s%s", code, out, errOut)
	}
	writeFiles(t, dir, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n"})
	out, errOut, code := weir(t, nil, "diff", "ks", "apps", "--path", dir, "-n", ns)
	if code != 1 || !strings.Contains(out, "✚ ConfigMap/"+ns+"/other created") || !strings.Contains(out, "► ConfigMap/"+ns+"/settings deleted") {
		t.Errorf("diff of a changed tree: exit %d\n%s%s", code, out, errOut)
	}
}
