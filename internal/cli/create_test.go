package cli_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// applyDocs creates every YAML document of out on the API server, so that the CRD schemas
// validate what `create --export` printed.
func applyDocs(t *testing.T, out string) int {
	t.Helper()
	objs := decodeDocs(t, out)
	for _, u := range objs {
		if err := env.Client.Create(t.Context(), u, client.FieldOwner("weir")); err != nil {
			t.Fatalf("the API server rejects %s %s: %v\n%s", u.GetKind(), u.GetName(), err, out)
		}
	}
	return len(objs)
}

// decodeDocs decodes `---` separated YAML documents.
func decodeDocs(t *testing.T, out string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decode output: %v\n%s", err, out)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

func TestCreateExport(t *testing.T) {
	ns := env.Namespace(t)
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, []byte("replicaCount: 2\nimage:\n  tag: 6.0.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for _, f := range []string{crt, key} {
		if err := os.WriteFile(f, []byte("PEM "+filepath.Base(f)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		args []string
	}{
		{"source_git", []string{"source", "git", "podinfo", "--url=https://github.com/stefanprodan/podinfo", "--branch=master", "--ignore-paths=docs/,*.md"}},
		{"source_git_semver", []string{"source", "git", "podinfo-semver", "--url=ssh://git@github.com/stefanprodan/podinfo", "--tag-semver=>=6.0.0", "--secret-ref=podinfo-auth", "--interval=10m"}},
		{"source_helm", []string{"source", "helm", "bitnami", "--url=https://charts.bitnami.com/bitnami"}},
		{"source_helm_oci", []string{"source", "helm", "podinfo-oci", "--url=oci://ghcr.io/stefanprodan/charts"}},
		{"source_oci", []string{"source", "oci", "manifests", "--url=oci://ghcr.io/stefanprodan/manifests/podinfo", "--tag=6.6.0"}},
		{"source_bucket", []string{"source", "bucket", "podinfo-bucket", "--bucket-name=podinfo", "--endpoint=minio.minio.svc.cluster.local:9000", "--insecure"}},
		{"kustomization", []string{"kustomization", "apps", "--source=podinfo", "--path=./kustomize", "--prune=true", "--depends-on=infra,other/base", "--health-check=Deployment/podinfo.default", "--target-namespace=apps"}},
		{"kustomization_wait", []string{"ks", "infra", "--source=OCIRepository/manifests.flux-system", "--path=./", "--wait", "--interval=5m"}},
		{"helmrelease", []string{"helmrelease", "podinfo", "--source=HelmRepository/bitnami", "--chart=podinfo", "--chart-version=>6.0.0", "--values=" + values, "--target-namespace=apps"}},
		{"helmrelease_chart_ref", []string{"hr", "podinfo-oci", "--chart-ref=OCIRepository/podinfo", "--target-namespace=apps", "--create-target-namespace"}},
		{"alert_provider", []string{"alert-provider", "slack", "--type=slack", "--channel=general", "--secret-ref=slack-url"}},
		{"alert", []string{"alert", "on-call", "--provider-ref=slack", "--event-severity=error", "--event-source=Kustomization/*,GitRepository/podinfo"}},
		{"receiver", []string{"receiver", "github", "--type=github", "--event=ping,push", "--secret-ref=webhook-token", "--resource=GitRepository/podinfo"}},
		{"image_repository", []string{"image", "repository", "podinfo", "--image=ghcr.io/stefanprodan/podinfo"}},
		{"image_policy", []string{"image", "policy", "podinfo", "--image-ref=podinfo", "--select-semver=5.0.x"}},
		{"image_update", []string{"image", "update", "podinfo", "--git-repo-ref=podinfo", "--checkout-branch=main", "--push-branch=image-updates", "--author-name=weir", "--author-email=weir@example.com", "--git-repo-path=./clusters"}},
		{"secret_git_basic", []string{"secret", "git", "git-basic", "--url=https://github.com/x/y", "-u=git", "-p=token"}},
		{"secret_git_bearer", []string{"secret", "git", "git-bearer", "--url=https://github.com/x/y", "--bearer-token=abc"}},
		{"secret_helm", []string{"secret", "helm", "helm-auth", "-u=user", "-p=pass"}},
		{"secret_oci", []string{"secret", "oci", "ghcr", "--url=ghcr.io/stefanprodan", "-u=user", "-p=pass"}},
		{"secret_tls", []string{"secret", "tls", "tls-certs", "--tls-crt-file=" + crt, "--tls-key-file=" + key}},
		{"secret_githubapp", []string{"secret", "githubapp", "gh-app", "--app-id=1", "--app-installation-id=2", "--app-private-key=" + key}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"create"}, tc.args...)
			out, errOut, code := weir(t, nil, append(args, "--export", "-n", ns)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.HasPrefix(out, "---\n") {
				t.Errorf("export does not start with ---:\n%s", out)
			}
			golden(t, "create_"+tc.name+".golden", ns, strings.ReplaceAll(out, dir, "DIR"))
			if n := applyDocs(t, out); n != 1 {
				t.Errorf("applied %d objects, want 1", n)
			}
		})
	}
}

func TestCreateSecretGitSSH(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	srv := root.ServeSSH()
	out, errOut, code := weir(t, nil, "create", "secret", "git", "ssh-auth", "--url", srv.RepoURL("repo"), "--export", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "deploy key: ecdsa-sha2-nistp384 ") {
		t.Errorf("no deploy key printed: %s", errOut)
	}
	applyDocs(t, out)
	var s corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "ssh-auth"}, &s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(s.Data["known_hosts"]), bytes.TrimSpace(srv.KnownHosts)) {
		t.Errorf("known_hosts = %q, want %q", s.Data["known_hosts"], srv.KnownHosts)
	}
	if !bytes.Contains(s.Data["identity"], []byte("OPENSSH PRIVATE KEY")) || len(s.Data["identity.pub"]) == 0 {
		t.Errorf("identity keys missing: %v", s.Data)
	}
}

func TestCreateAppliesAndWaits(t *testing.T) {
	ns := env.Namespace(t)
	fakeSourceController(t, ns, "podinfo", metav1.ConditionTrue, "stored", rev1)
	out, errOut, code := weir(t, nil, "create", "source", "git", "podinfo", "--url=https://example.com/podinfo", "--branch=main", "-n", ns, "--timeout=1m")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "✔ fetched revision "+rev1) {
		t.Errorf("output lacks the revision:\n%s", out)
	}
	var r sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "podinfo"}, &r); err != nil {
		t.Fatal(err)
	}
	managers := map[string]bool{}
	for _, m := range r.ManagedFields {
		managers[m.Manager] = true
	}
	if !managers["weir"] {
		t.Errorf("field managers = %v, want weir", managers)
	}
}

func TestCreateSourceGitGeneratesCredentials(t *testing.T) {
	ns := env.Namespace(t)
	srv := gitserver.NewRoot(t).ServeSSH()
	fakeSourceController(t, ns, "over-ssh", metav1.ConditionTrue, "stored", rev1)
	fakeSourceController(t, ns, "over-https", metav1.ConditionTrue, "stored", rev1)

	_, errOut, code := weir(t, nil, "create", "source", "git", "over-ssh", "--url", srv.RepoURL("repo"), "--branch=main", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "--silent") {
		t.Errorf("ssh without a terminal nor --silent: exit %d, %q", code, errOut)
	}
	out, errOut, code := weir(t, nil, "create", "source", "git", "over-ssh", "--url", srv.RepoURL("repo"), "--branch=main", "--silent", "-n", ns, "--timeout=1m")
	if code != 0 || !strings.Contains(out, "✚ deploy key: ecdsa-sha2-nistp384 ") {
		t.Fatalf("ssh: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = weir(t, nil, "create", "source", "git", "over-https", "--url", "https://example.com/repo", "--branch=main",
		"-u", "git", "-p", "token", "-n", ns, "--timeout=1m")
	if code != 0 {
		t.Fatalf("https: exit %d\n%s%s", code, out, errOut)
	}
	for name, keys := range map[string][]string{"over-ssh": {"identity", "identity.pub", "known_hosts"}, "over-https": {"username", "password"}} {
		var r sourcev1.GitRepository
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
			t.Fatal(err)
		}
		if r.Spec.SecretRef == nil || r.Spec.SecretRef.Name != name {
			t.Errorf("%s: secretRef = %v", name, r.Spec.SecretRef)
		}
		var s corev1.Secret
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, k := range keys {
			if len(s.Data[k]) == 0 {
				t.Errorf("%s: secret lacks %s", name, k)
			}
		}
	}
}

// TestCreateHelmFlags: flux's flags of create helmrelease (--values-from, --crds,
// --kubeconfig-secret-ref) and create source helm (--username/--password and TLS files into a
// Secret named after the source).
func TestCreateHelmFlags(t *testing.T) {
	ns := env.Namespace(t)
	out, errOut, code := weir(t, nil, "create", "hr", "podinfo", "--source=HelmRepository/charts", "--chart=podinfo",
		"--values-from=Secret/podinfo-values,ConfigMap/defaults", "--crds=CreateReplace", "--kubeconfig-secret-ref=prod-kubeconfig", "--export", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kind: Secret\n    name: podinfo-values", "kind: ConfigMap\n    name: defaults", "crds: CreateReplace", "secretRef:\n      name: prod-kubeconfig"} {
		if !strings.Contains(out, want) {
			t.Errorf("create hr --export lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := weir(t, nil, "create", "hr", "x", "--source=HelmRepository/charts", "--chart=x", "--crds=Sometimes", "--export", "-n", ns); code == 0 || !strings.Contains(errOut, "invalid CRD policy") {
		t.Errorf("--crds=Sometimes: exit %d, %q", code, errOut)
	}
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, []byte("PEM ca\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = weir(t, nil, "create", "source", "helm", "private", "--url=https://charts.example.com", "-u=user", "-p=s3cret", "--ca-file="+ca, "--export", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kind: Secret", "username: user", "password: s3cret", "ca.crt: |", "kind: HelmRepository", "secretRef:\n    name: private"} {
		if !strings.Contains(out, want) {
			t.Errorf("create source helm --export lacks %q:\n%s", want, out)
		}
	}
}

// TestCreateSecretsForNotificationsAndProxies: create secret receiver (a given or generated
// token; gcr's email and audience), proxy and notation, as flux's.
func TestCreateSecretsForNotificationsAndProxies(t *testing.T) {
	ns := env.Namespace(t)
	dir := t.TempDir()
	policy, ca := filepath.Join(dir, "trustpolicy.json"), filepath.Join(dir, "notation.crt")
	for _, f := range []string{policy, ca} {
		if err := os.WriteFile(f, []byte("content of "+filepath.Base(f)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		args []string
		want []string
	}{
		"receiver":     {[]string{"receiver", "hook", "--type=github", "--token=abc123"}, []string{"token: abc123"}},
		"receiver gcr": {[]string{"receiver", "gcr", "--type=gcr", "--token=t", "--email=a@b.iam", "--audience=https://x"}, []string{"email: a@b.iam", "audience: https://x"}},
		"proxy":        {[]string{"proxy", "corp", "--address=https://proxy:3128", "-u=user", "-p=pass"}, []string{"address: https://proxy:3128", "username: user", "password: pass"}},
		"notation":     {[]string{"notation", "nv", "--trust-policy-file=" + policy, "--ca-cert-file=" + ca}, []string{"trustpolicy.json: |", "notation.crt: |"}},
	}
	for name, c := range cases {
		out, errOut, code := weir(t, nil, append(append([]string{"create", "secret"}, c.args...), "--export", "-n", ns)...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", name, code, errOut)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", name, w, out)
			}
		}
	}
	out, errOut, code := weir(t, nil, "create", "secret", "receiver", "gen", "--type=gitlab", "--export", "-n", ns)
	if code != 0 || !strings.Contains(errOut, "generated token: ") || !strings.HasPrefix(out, "---\n") || !strings.Contains(out, "token: ") {
		t.Errorf("generated token: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if _, errOut, code := weir(t, nil, "create", "secret", "receiver", "bad", "--type=gcr", "--export", "-n", ns); code == 0 || !strings.Contains(errOut, "--email and --audience") {
		t.Errorf("gcr without email: exit %d, %q", code, errOut)
	}
}
