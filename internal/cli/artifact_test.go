package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// TestArtifactCommands pushes a directory as a Flux artifact to a registry behind basic auth,
// checks the media types and annotations Flux's source-controller reads, then tags, lists,
// pulls and diffs it, and builds it locally.
func TestArtifactCommands(t *testing.T) {
	const password = "registry-pass-0042"
	reg := ociregistry.New(t, ociregistry.Options{Username: "ci", Password: password})
	creds := "--creds=ci:" + password
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"deploy/app.yaml": "kind: ConfigMap\n", "deploy/sub/b.yaml": "b: 1\n", "logo.png": "PNG"})
	url := reg.URL("manifests/app")

	out, errOut, code := weir(t, nil, "build", "artifact", "--path", dir, "--output", filepath.Join(dir, "..", "a.tgz"))
	if code != 0 || !strings.Contains(out, "✔ artifact created at") {
		t.Fatalf("build artifact: %d %s %s", code, out, errOut)
	}

	out, errOut, code = weir(t, nil, "push", "artifact", url+":v1.0.0", "--path", dir, "--source", "https://github.com/example/app",
		"--revision", "main@sha1:0123456789abcdef0123456789abcdef01234567", "-a", "team=platform", creds, "-o", "json")
	if code != 0 {
		t.Fatalf("push artifact: %d %s %s", code, out, errOut)
	}
	var pushed struct{ URL, Repository, Tag, Digest string }
	if err := json.Unmarshal([]byte(out), &pushed); err != nil {
		t.Fatalf("push -o json: %v\n%s", err, out)
	}
	if pushed.Tag != "v1.0.0" || !strings.HasPrefix(pushed.Digest, "sha256:") || pushed.URL != "oci://"+reg.Host()+"/manifests/app@"+pushed.Digest {
		t.Errorf("push output %+v", pushed)
	}

	checkFluxManifest(t, reg, url+":v1.0.0")

	out, errOut, code = weir(t, nil, "push", "artifact", url+":v2", "--path", dir, "--source", "s", "--revision", "r")
	if code == 0 || strings.Contains(out+errOut, password) {
		t.Errorf("push without credentials: %d %s %s", code, out, errOut)
	}

	out, errOut, code = weir(t, nil, "tag", "artifact", url+":v1.0.0", "--tag", "production", creds)
	if code != 0 || !strings.Contains(out, "✔ artifact tagged as "+reg.Host()+"/manifests/app:production") {
		t.Fatalf("tag artifact: %d %s %s", code, out, errOut)
	}
	out, errOut, code = weir(t, nil, "list", "artifacts", url, creds)
	if code != 0 {
		t.Fatalf("list artifacts: %d %s %s", code, out, errOut)
	}
	checkListed(t, out, reg.Host()+"/manifests/app", pushed.Digest)
	out, _, _ = weir(t, nil, "list", "artifacts", url, creds, "--filter-semver", ">=1.0.0")
	if strings.Contains(out, "production") || !strings.Contains(out, "v1.0.0") {
		t.Errorf("--filter-semver: %s", out)
	}

	pulled := t.TempDir()
	out, errOut, code = weir(t, nil, "pull", "artifact", url+":production", "-o", pulled, creds)
	if code != 0 || !strings.Contains(out, "✔ revision main@sha1:0123456789abcdef0123456789abcdef01234567") {
		t.Fatalf("pull artifact: %d %s %s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(pulled, "deploy", "sub", "b.yaml")); err != nil || string(b) != "b: 1\n" {
		t.Errorf("pulled deploy/sub/b.yaml: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(pulled, "logo.png")); err == nil {
		t.Errorf("logo.png was pushed despite the default --ignore-paths")
	}

	out, errOut, code = weir(t, nil, "diff", "artifact", url+":v1.0.0", "--path", dir, creds)
	if code != 0 || !strings.Contains(out, "✔ no changes detected") {
		t.Errorf("diff of the same content: %d %s %s", code, out, errOut)
	}
	writeFiles(t, dir, map[string]string{"deploy/app.yaml": "kind: Secret\n", "deploy/new.yaml": "n\n"})
	if err := os.Remove(filepath.Join(dir, "deploy", "sub", "b.yaml")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = weir(t, nil, "diff", "artifact", url+":v1.0.0", "--path", dir, creds)
	if code != 1 || !strings.Contains(errOut, "the remote artifact contents differs from the local one") {
		t.Errorf("diff of changed content: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"► deploy/app.yaml changed", "► deploy/new.yaml added", "► deploy/sub/b.yaml deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff output lacks %q:\n%s", want, out)
		}
	}
}

// checkFluxManifest checks what Flux's source-controller reads of a pushed artifact: config
// and layer media types, and the annotations.
func checkFluxManifest(t *testing.T, reg *ociregistry.Registry, url string) {
	t.Helper()
	ref, err := oci.ParseArtifact(url, true)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithContext(t.Context()), remote.WithAuthFromKeychain(reg.ClientOptions().Keychain))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != oci.ConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != oci.ContentMediaType {
		t.Errorf("manifest config %s layers %+v, want Flux's media types", m.Config.MediaType, m.Layers)
	}
	for k, want := range map[string]string{oci.SourceAnnotation: "https://github.com/example/app",
		oci.RevisionAnnotation: "main@sha1:0123456789abcdef0123456789abcdef01234567", "team": "platform"} {
		if m.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], want)
		}
	}
	if m.Annotations[oci.CreatedAnnotation] == "" {
		t.Errorf("no %s annotation", oci.CreatedAnnotation)
	}

}

// checkListed checks the list artifacts table: a row per tag with the digest, source and
// revision.
func checkListed(t *testing.T, out, repo, digest string) {
	t.Helper()
	for _, tag := range []string{"production", "v1.0.0"} {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == repo+":"+tag {
				line = l
			}
		}
		if !strings.Contains(line, digest) || !strings.Contains(line, "main@sha1:0123456789") || !strings.Contains(line, "https://github.com/example/app") {
			t.Errorf("list artifacts: no row for %s with digest, source and revision:\n%s", tag, out)
		}
	}
}

// TestOCIPipelineWithController runs gitless GitOps through the CLI against `weir controller`:
// push an artifact, create an OCIRepository and a Kustomization for it, push a new version and
// reconcile, and read it back with get, suspend/resume, tree and trace.
func TestOCIPipelineWithController(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.New(t, ociregistry.Options{})
	dir := t.TempDir()
	cm := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gitless\ndata:\n  version: " + v + "\n"
	}
	writeFiles(t, dir, map[string]string{"cm.yaml": cm("one")})
	url := reg.URL("deploy/app")
	startController(t)

	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...)
		if code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	var pushed struct{ Digest string }
	if err := json.Unmarshal([]byte(run("push", "artifact", url+":latest", "--path", dir, "--source", "https://github.com/example/app",
		"--revision", "main@sha1:1111111111111111111111111111111111111111", "-o", "json")), &pushed); err != nil {
		t.Fatal(err)
	}
	out := run("create", "source", "oci", "app", "--url", url, "--tag", "latest", "--interval", "1h")
	if want := "✔ fetched revision latest@" + pushed.Digest; !strings.Contains(out, want) {
		t.Errorf("create source oci output lacks %q:\n%s", want, out)
	}
	out = run("create", "kustomization", "app", "--source", "OCIRepository/app", "--path", "./", "--prune",
		"--target-namespace", ns, "--interval", "1h")
	if want := "✔ applied revision latest@" + pushed.Digest; !strings.Contains(out, want) {
		t.Errorf("create kustomization output lacks %q:\n%s", want, out)
	}

	writeFiles(t, dir, map[string]string{"cm.yaml": cm("two")})
	if err := json.Unmarshal([]byte(run("push", "artifact", url+":latest", "--path", dir, "--source", "s", "--revision", "r", "-o", "json")), &pushed); err != nil {
		t.Fatal(err)
	}
	out = run("reconcile", "source", "oci", "app")
	if want := "✔ fetched revision latest@" + pushed.Digest; !strings.Contains(out, want) {
		t.Errorf("reconcile source oci output lacks %q:\n%s", want, out)
	}
	out = run("reconcile", "kustomization", "app")
	if want := "✔ applied revision latest@" + pushed.Digest; !strings.Contains(out, want) {
		t.Errorf("reconcile kustomization output lacks %q:\n%s", want, out)
	}

	out = run("get", "sources", "oci")
	if !strings.Contains(out, "app") || !strings.Contains(out, "latest@"+pushed.Digest) || !strings.Contains(out, "True") {
		t.Errorf("get sources oci:\n%s", out)
	}
	run("suspend", "source", "oci", "app")
	out = run("get", "sources", "oci", "app", "-o", "yaml")
	if !strings.Contains(out, "suspend: true") {
		t.Errorf("suspend source oci did not set spec.suspend:\n%s", out)
	}
	run("resume", "source", "oci", "app")
	out = run("tree", "kustomization", "app")
	if want := "Kustomization/" + ns + "/app\n└── ConfigMap/" + ns + "/gitless\n"; out != want {
		t.Errorf("tree = %q, want %q", out, want)
	}
	out = run("trace", "configmap/gitless")
	for _, want := range []string{"Kustomization:  app", "OCIRepository:  app", "latest@" + pushed.Digest} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
}
