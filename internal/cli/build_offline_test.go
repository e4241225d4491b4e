package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// weirOffline runs the weir binary with no cluster at all: no KUBECONFIG, a HOME without a
// kubeconfig, and a --kubeconfig that does not exist.
func weirOffline(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, weirBin, append([]string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func sopsFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "build", "testdata", "sops", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// offlineRepo is a repository checkout: a Kustomization manifest for apps (with overrides,
// inline and cluster variables, SOPS decryption), the apps directory, and a root directory
// whose build holds the apps Kustomization and another from a second source.
func offlineRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	apps := `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: repo
  targetNamespace: prod
  namePrefix: prod-
  decryption:
    provider: sops
    secretRef:
      name: sops-keys
  postBuild:
    substitute:
      team: web
    substituteFrom:
    - kind: ConfigMap
      name: cluster-vars
`
	writeFiles(t, dir, map[string]string{
		".git/HEAD":                   "ref: refs/heads/main\n",
		"clusters/prod/apps.yaml":     apps,
		"clusters/prod/infra.yaml":    strings.NewReplacer("name: apps\n", "name: infra\n", "name: repo\n", "name: infra-repo\n", "./apps", "./infra").Replace(apps),
		"apps/config.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  team: ${team}\n  env: \"${env}\"\n  region: ${region:=eu}\n",
		"apps/secret.yaml":            sopsFixture(t, "secret.age.yaml"),
		"apps/scratch/ignored.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scratch\n",
		"infra/config.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: infra\n",
		"other-checkout/infra/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-other-source\n",
	})
	return dir
}

// TestBuildKustomizationOffline builds as flux build ks does in CI: from a Kustomization
// file, with --dry-run and no cluster, through the controller's pipeline.
func TestBuildKustomizationOffline(t *testing.T) {
	dir := offlineRepo(t)
	ksFile := filepath.Join(dir, "clusters", "prod", "apps.yaml")
	args := []string{"build", "kustomization", "apps", "--path", filepath.Join(dir, "apps"), "--kustomization-file", ksFile, "--dry-run"}

	t.Run("dry run", func(t *testing.T) {
		out, errOut, code := weirOffline(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		objs := byKindName(t, out)
		cm := objs["ConfigMap/prod-settings"]
		if cm == nil {
			t.Fatalf("no ConfigMap/prod-settings in:\n%s", out)
		}
		data := cm["data"].(map[string]any)
		// Inline variables and defaults are substituted; substituteFrom is skipped in dry-run.
		if data["team"] != "web" || data["region"] != "eu" || (data["env"] != nil && data["env"] != "") {
			t.Errorf("data = %v", data)
		}
		if md := cm["metadata"].(map[string]any); md["namespace"] != "prod" ||
			md["labels"].(map[string]any)["kustomize.toolkit.fluxcd.io/name"] != "apps" {
			t.Errorf("metadata = %v", md)
		}
		// Without keys the encrypted Secret prints masked, as flux build prints it.
		secret := objs["Secret/prod-db"]
		if secret == nil {
			t.Fatalf("no Secret/prod-db in:\n%s", out)
		}
		if v := secret["stringData"].(map[string]any)["password"]; v != "**SOPS**" {
			t.Errorf("Secret password printed as %q, want **SOPS**", v)
		}
		if strings.Contains(out, "ENC[AES256_GCM") {
			t.Errorf("encrypted values printed:\n%s", out)
		}
		if objs["ConfigMap/prod-scratch"] == nil {
			t.Errorf("ConfigMap/prod-scratch missing without --ignore-paths")
		}
	})

	t.Run("--ignore-paths", func(t *testing.T) {
		out, errOut, code := weirOffline(t, append(args, "--ignore-paths", "scratch/")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if objs := byKindName(t, out); objs["ConfigMap/prod-scratch"] != nil || objs["ConfigMap/prod-settings"] == nil {
			t.Errorf("--ignore-paths scratch/ built:\n%s", out)
		}
	})

	t.Run("--strict-substitute", func(t *testing.T) {
		_, errOut, code := weirOffline(t, append(args, "--strict-substitute")...)
		if code == 0 || !strings.Contains(errOut, "env") {
			t.Errorf("strict build with an undefined variable: exit %d, %q", code, errOut)
		}
	})

	t.Run("--dry-run needs a Kustomization file", func(t *testing.T) {
		_, errOut, code := weirOffline(t, "build", "ks", "apps", "--path", filepath.Join(dir, "apps"), "--dry-run")
		if code == 0 || !strings.Contains(errOut, "dry-run mode requires a kustomization file") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})

	t.Run("validation runs after substitution", func(t *testing.T) {
		writeFiles(t, filepath.Join(dir, "apps"), map[string]string{"unnamed.yaml": "apiVersion: v1\nkind: \"${missing_kind}\"\nmetadata:\n  name: unnamed\n"})
		defer func() { _ = os.Remove(filepath.Join(dir, "apps", "unnamed.yaml")) }()
		_, errOut, code := weirOffline(t, args...)
		if code == 0 || !strings.Contains(errOut, "missing kind") && !strings.Contains(errOut, "kind") {
			t.Errorf("exit %d, %q: want a validation error naming kind", code, errOut)
		}
	})

	t.Run("--recursive with --local-sources", func(t *testing.T) {
		out, errOut, code := weirOffline(t, "build", "kustomization", "flux-system", "--path", filepath.Join(dir, "clusters", "prod"),
			"--kustomization-file", writeRootKustomization(t, dir), "--dry-run", "--recursive",
			"--local-sources", "GitRepository/flux-system/infra-repo="+filepath.Join(dir, "other-checkout"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		objs := byKindName(t, out)
		for _, want := range []string{"Kustomization/apps", "Kustomization/infra", "ConfigMap/prod-settings", "ConfigMap/prod-from-other-source"} {
			if objs[want] == nil {
				t.Errorf("recursive build lacks %s:\n%s", want, out)
			}
		}
		if objs["ConfigMap/prod-infra"] != nil {
			t.Errorf("infra was built from the wrong source (this checkout, not --local-sources)")
		}
	})
}

// writeRootKustomization writes the flux-system Kustomization building clusters/prod.
func writeRootKustomization(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "flux-system.yaml")
	writeFiles(t, filepath.Dir(p), map[string]string{filepath.Base(p): `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef:
    kind: GitRepository
    name: repo
`})
	return p
}

// byKindName decodes multi-document YAML into objects keyed Kind/name.
func byKindName(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	for _, o := range decodeDocs(t, out) {
		objs[o.GetKind()+"/"+o.GetName()] = o.Object
	}
	return objs
}

// TestDiffKustomizationDecrypts checks that diff builds through the controller's pipeline:
// with the cluster's decryption Secret, the encrypted Secret compares by its decrypted
// values, so a cluster holding them shows no drift.
func TestDiffKustomizationDecrypts(t *testing.T) {
	ns := env.Namespace(t)
	dir := offlineRepo(t)
	ksFile := filepath.Join(dir, "clusters", "prod", "apps.yaml")
	patched := strings.NewReplacer("namespace: flux-system", "namespace: "+ns, "targetNamespace: prod", "targetNamespace: "+ns).Replace(
		mustRead(t, ksFile))
	writeFiles(t, filepath.Dir(ksFile), map[string]string{"apps.yaml": patched})
	for _, obj := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sops-keys"}, StringData: map[string]string{"age.agekey": sopsFixture(t, "age1.agekey")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cluster-vars"}, Data: map[string]string{"env": "production"}},
	} {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--path", filepath.Join(dir, "apps"), "--kustomization-file", ksFile, "-n", ns, "--ignore-paths", "scratch/"}
	built, errOut, code := weir(t, nil, append([]string{"build", "ks", "apps"}, args...)...)
	if code != 0 {
		t.Fatalf("build: exit %d: %s", code, errOut)
	}
	if strings.Contains(built, "s3cr3t-p4ss") || !strings.Contains(built, "**SOPS**") || !strings.Contains(built, "production") {
		t.Fatalf("build output: decrypted values must print masked, cluster variables substituted:\n%s", built)
	}
	// The cluster holds what the controller would apply: the decrypted Secret.
	applyAs(t, strings.ReplaceAll(built, "**SOPS**", "s3cr3t-p4ss"), "kustomize-controller")
	var s corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "prod-db"}, &s); err != nil {
		t.Fatal(err)
	}
	s.StringData = map[string]string{"username": "admin", "password": "s3cr3t-p4ss", "port": "5432", "config.yaml": "host: db.internal\ntls: true\n"}
	s.Data = nil
	if err := env.Client.Update(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := weir(t, nil, append([]string{"diff", "ks", "apps"}, args...)...)
	if strings.Contains(out, "Secret/"+ns+"/prod-db") || strings.Contains(out+errOut, "s3cr3t") {
		t.Fatalf("diff: exit %d: the decrypted Secret should match the cluster and never print:\n%s\n%s", code, out, errOut)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
