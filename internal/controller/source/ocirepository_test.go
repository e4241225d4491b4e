package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

func newOCIRepository(ns, name, url string, ref *sourcev1.OCIRepositoryRef) *sourcev1.OCIRepository {
	return &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.OCIRepositorySpec{
			URL: url, Reference: ref, Interval: metav1.Duration{Duration: time.Hour},
		},
	}
}

// waitOCI waits until the OCIRepository's Ready condition has the wanted status for its
// generation, and check (when given) passes.
func waitOCI(t *testing.T, key client.ObjectKey, status metav1.ConditionStatus, check func(*sourcev1.OCIRepository) error) *sourcev1.OCIRepository {
	t.Helper()
	return waitSource(t, key, &sourcev1.OCIRepository{}, status, check)
}

func ociRevisionIs(want string) func(*sourcev1.OCIRepository) error {
	return func(o *sourcev1.OCIRepository) error {
		if o.Status.Artifact == nil || o.Status.Artifact.Revision != want {
			return fmt.Errorf("artifact %+v, want revision %s", o.Status.Artifact, want)
		}
		return nil
	}
}

func ociMessageHas(sub string) func(*sourcev1.OCIRepository) error {
	return func(o *sourcev1.OCIRepository) error {
		c := apimeta.FindStatusCondition(o.Status.Conditions, "Ready")
		if c == nil || !strings.Contains(c.Message, sub) {
			return fmt.Errorf("Ready = %+v, want a message with %q", c, sub)
		}
		return nil
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

// TestOCIRepositoryRefs resolves tag, default tag, semver (with a filter) and digest refs to
// Flux's revision strings, stores the content with the manifest's annotations as metadata,
// and serves it.
func TestOCIRepositoryRefs(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	meta1 := oci.Metadata{Source: "https://github.com/example/app", Revision: "main@sha1:1111111111111111111111111111111111111111", Created: "2026-01-01T00:00:00Z"}
	d100 := reg.PushFiles(t, "app", "v1.0.0", map[string]string{"app.yaml": "v: 1.0.0\n"}, meta1)
	d110 := reg.PushFiles(t, "app", "v1.1.0", map[string]string{"app.yaml": "v: 1.1.0\n"}, meta1)
	reg.PushFiles(t, "app", "v2.0.0", map[string]string{"app.yaml": "v: 2.0.0\n"}, meta1)
	d110rc := reg.PushFiles(t, "app", "v1.2.0-rc.1", map[string]string{"app.yaml": "rc\n"}, meta1)
	dLatest := reg.PushFiles(t, "app", "latest", map[string]string{"app.yaml": "latest\n", "sub/b.yaml": "b\n"}, meta1)

	cases := []struct {
		name string
		ref  *sourcev1.OCIRepositoryRef
		want string
	}{
		{"default", nil, "latest@" + dLatest.String()},
		{"tag", &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@" + d100.String()},
		{"semver", &sourcev1.OCIRepositoryRef{SemVer: ">=1.0.0 <2.0.0", Tag: "v1.0.0"}, "v1.1.0@" + d110.String()},
		{"semver-pre", &sourcev1.OCIRepositoryRef{SemVer: ">=1.0.0-0 <2.0.0"}, "v1.2.0-rc.1@" + d110rc.String()},
		{"semver-filter", &sourcev1.OCIRepositoryRef{SemVer: "1.x", SemverFilter: "^v1\\.0"}, "v1.0.0@" + d100.String()},
		{"digest", &sourcev1.OCIRepositoryRef{Digest: d100.String(), Tag: "latest"}, d100.String()},
	}
	for _, c := range cases {
		create(t, newOCIRepository(ns, c.name, reg.URL("app"), c.ref))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: c.name}, metav1.ConditionTrue, ociRevisionIs(c.want))
			ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
			if want := fmt.Sprintf("stored artifact for digest '%s'", c.want); ready.Message != want || ready.Reason != "Succeeded" {
				t.Errorf("Ready = %s %q, want Succeeded %q", ready.Reason, ready.Message, want)
			}
			if got := obj.Status.Artifact.Metadata[oci.RevisionAnnotation]; got != meta1.Revision {
				t.Errorf("metadata %v, want the origin revision", obj.Status.Artifact.Metadata)
			}
			if obj.Status.URL != obj.Status.Artifact.URL {
				t.Errorf("status.url %q, artifact url %q", obj.Status.URL, obj.Status.Artifact.URL)
			}
			if obj.Status.ObservedLayerSelector != nil || obj.Status.ObservedIgnore != nil {
				t.Errorf("observed selector %v ignore %v, want none", obj.Status.ObservedLayerSelector, obj.Status.ObservedIgnore)
			}
			got := files(t, fetchStored(t, obj.Status.Artifact))
			if c.name == "default" {
				if got["app.yaml"] != "latest\n" || got["sub/b.yaml"] != "b\n" {
					t.Errorf("artifact files %v", got)
				}
			}
		})
	}
}

// TestOCIRepositoryUnchangedDigest checks that an unchanged digest costs one manifest request
// (a HEAD) per reconcile and no download, and that a new digest of the tag is fetched once.
func TestOCIRepositoryUnchangedDigest(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	reg.PushFiles(t, "app", "stable", map[string]string{"a.yaml": "a: 1\n"}, oci.Metadata{})
	create(t, newOCIRepository(ns, "app", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "stable"}))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	first := waitOCI(t, key, metav1.ConditionTrue, nil)

	heads, gets, blobs := reg.Requests("HEAD", "manifests"), reg.Requests("GET", "manifests"), reg.Requests("GET", "blobs")
	const rounds = 4
	for i := 0; i < rounds; i++ {
		at := requestOCIReconcile(t, key)
		waitOCI(t, key, metav1.ConditionTrue, func(o *sourcev1.OCIRepository) error {
			if o.Status.LastHandledReconcileAt != at {
				return fmt.Errorf("reconcile %s not handled yet", at)
			}
			return nil
		})
	}
	if got := reg.Requests("HEAD", "manifests") - heads; got != rounds {
		t.Errorf("%d manifest HEAD requests for %d reconciles, want one each", got, rounds)
	}
	if got := reg.Requests("GET", "manifests") - gets; got != 0 {
		t.Errorf("%d manifest GETs for an unchanged digest, want none", got)
	}
	if got := reg.Requests("GET", "blobs") - blobs; got != 0 {
		t.Errorf("%d blob GETs for an unchanged digest, want none", got)
	}
	var now sourcev1.OCIRepository
	if err := env.Client.Get(t.Context(), key, &now); err != nil {
		t.Fatal(err)
	}
	if now.Status.Artifact.Digest != first.Status.Artifact.Digest || !now.Status.Artifact.LastUpdateTime.Equal(&first.Status.Artifact.LastUpdateTime) {
		t.Errorf("artifact changed without a new digest: %+v -> %+v", first.Status.Artifact, now.Status.Artifact)
	}

	d2 := reg.PushFiles(t, "app", "stable", map[string]string{"a.yaml": "a: 2\n"}, oci.Metadata{})
	requestOCIReconcile(t, key)
	obj := waitOCI(t, key, metav1.ConditionTrue, ociRevisionIs("stable@"+d2.String()))
	if got := files(t, fetchStored(t, obj.Status.Artifact))["a.yaml"]; got != "a: 2\n" {
		t.Errorf("a.yaml = %q after the new digest", got)
	}
}

func requestOCIReconcile(t *testing.T, key client.ObjectKey) string {
	t.Helper()
	at := time.Now().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, at)
	obj := &sourcev1.OCIRepository{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	if err := env.Client.Patch(t.Context(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
	return at
}

// pushChart pushes an artifact shaped like `helm push` makes: a Helm config and the chart's
// tgz layer, with a second unrelated layer first so that the selector has to pick (with the
// registry's credentials when it requires some).
func pushChart(t *testing.T, reg *ociregistry.Registry, repo, tag string, chart []byte) {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: static.NewLayer([]byte("provenance"), "application/vnd.cncf.helm.chart.provenance.v1.prov")},
		mutate.Addendum{Layer: static.NewLayer(chart, oci.HelmChartContentMediaType)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := oci.ParseArtifact(reg.URL(repo)+":"+tag, true)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithContext(t.Context())}
	if k := reg.ClientOptions().Keychain; k != nil {
		opts = append(opts, remote.WithAuthFromKeychain(k))
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}
}

// TestOCIRepositoryLayerSelector copies a Helm chart layer unchanged, extracts it when asked,
// refuses a media type the artifact lacks, and records the observed selector.
func TestOCIRepositoryLayerSelector(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	chart := ociregistry.TarGz(t, map[string]string{"podinfo/Chart.yaml": "name: podinfo\nversion: 6.5.0\n"})
	pushChart(t, reg, "charts/podinfo", "6.5.0", chart)

	copyRepo := newOCIRepository(ns, "copy", reg.URL("charts/podinfo"), &sourcev1.OCIRepositoryRef{Tag: "6.5.0"})
	copyRepo.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: oci.HelmChartContentMediaType, Operation: "copy"}
	create(t, copyRepo)
	extract := newOCIRepository(ns, "extract", reg.URL("charts/podinfo"), &sourcev1.OCIRepositoryRef{Tag: "6.5.0"})
	extract.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: oci.HelmChartContentMediaType}
	create(t, extract)
	missing := newOCIRepository(ns, "missing", reg.URL("charts/podinfo"), &sourcev1.OCIRepositoryRef{Tag: "6.5.0"})
	missing.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: "application/vnd.example.none"}
	create(t, missing)

	obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "copy"}, metav1.ConditionTrue, nil)
	if got := fetchStored(t, obj.Status.Artifact); string(got) != string(chart) {
		t.Errorf("copied artifact is %d bytes, want the chart layer's %d bytes unchanged", len(got), len(chart))
	}
	if s := obj.Status.ObservedLayerSelector; s == nil || s.Operation != "copy" || s.MediaType != oci.HelmChartContentMediaType {
		t.Errorf("observedLayerSelector = %+v", s)
	}
	obj = waitOCI(t, client.ObjectKey{Namespace: ns, Name: "extract"}, metav1.ConditionTrue, nil)
	if got := files(t, fetchStored(t, obj.Status.Artifact)); !strings.Contains(got["podinfo/Chart.yaml"], "podinfo") {
		t.Errorf("extracted files %v", got)
	}
	obj = waitOCI(t, client.ObjectKey{Namespace: ns, Name: "missing"}, metav1.ConditionFalse,
		ociMessageHas("failed to find layer with media type 'application/vnd.example.none' in artifact"))
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready"); c.Reason != sourcev1.OCILayerOperationFailedReason {
		t.Errorf("reason %s, want %s", c.Reason, sourcev1.OCILayerOperationFailedReason)
	}
}

// TestOCIRepositorySharedFetch points several OCIRepositories at one artifact: its layer is
// downloaded once.
func TestOCIRepositorySharedFetch(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	reg.PushFiles(t, "shared", "v1", map[string]string{"x.yaml": "x: 1\n"}, oci.Metadata{})
	const n = 5
	for i := 0; i < n; i++ {
		create(t, newOCIRepository(ns, fmt.Sprintf("s%d", i), reg.URL("shared"), &sourcev1.OCIRepositoryRef{Tag: "v1"}))
	}
	digests := map[string]bool{}
	for i := 0; i < n; i++ {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("s%d", i)}, metav1.ConditionTrue, nil)
		digests[obj.Status.Artifact.Digest] = true
		fetchStored(t, obj.Status.Artifact)
	}
	if len(digests) != 1 {
		t.Errorf("artifact digests %v, want one", digests)
	}
	// The config blob is not fetched; the one layer is, once.
	if got := reg.Requests("GET", "blobs"); got != 1 {
		t.Errorf("%d blob downloads for %d OCIRepositories of one artifact, want 1", got, n)
	}
}

// TestOCIRepositoryAuth pulls from a TLS registry with a private CA behind basic auth, with
// credentials from spec.secretRef and from a service account's imagePullSecrets; wrong
// credentials and a missing CA fail with Flux's reasons and no secret in the status.
func TestOCIRepositoryAuth(t *testing.T) {
	const password = "s3cr3t-registry-password"
	reg := ociregistry.New(t, ociregistry.Options{TLS: true, Username: "weir", Password: password})
	ns := env.Namespace(t)
	reg.PushFiles(t, "private/app", "v1", map[string]string{"p.yaml": "p: 1\n"}, oci.Metadata{})

	createSecret(t, ns, "pull", map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfig()})
	createSecret(t, ns, "ca", map[string][]byte{"ca.crt": reg.CAPEM()})
	wrong := ociregistry.New(t, ociregistry.Options{Username: "weir", Password: "other-password-value"})
	createSecret(t, ns, "wrong", map[string][]byte{corev1.DockerConfigJsonKey: []byte(strings.ReplaceAll(
		string(wrong.DockerConfig()), wrong.Host(), reg.Host()))})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "puller"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	create(t, sa)

	withSecret := newOCIRepository(ns, "secret", reg.URL("private/app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	withSecret.Spec.SecretRef = &meta.LocalObjectReference{Name: "pull"}
	withSecret.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	create(t, withSecret)
	withSA := newOCIRepository(ns, "sa", reg.URL("private/app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	withSA.Spec.ServiceAccountName = "puller"
	withSA.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	create(t, withSA)
	bad := newOCIRepository(ns, "bad", reg.URL("private/app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	bad.Spec.SecretRef = &meta.LocalObjectReference{Name: "wrong"}
	bad.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	create(t, bad)
	noCA := newOCIRepository(ns, "noca", reg.URL("private/app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	noCA.Spec.SecretRef = &meta.LocalObjectReference{Name: "pull"}
	create(t, noCA)
	anon := newOCIRepository(ns, "anon", reg.URL("private/app"), &sourcev1.OCIRepositoryRef{Tag: "v1"})
	anon.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	create(t, anon)

	for _, name := range []string{"secret", "sa"} {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionTrue, nil)
		if got := files(t, fetchStored(t, obj.Status.Artifact))["p.yaml"]; got != "p: 1\n" {
			t.Errorf("%s: p.yaml = %q", name, got)
		}
	}
	for _, name := range []string{"bad", "anon"} {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionFalse, nil)
		ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
		fetch := apimeta.FindStatusCondition(obj.Status.Conditions, "FetchFailed")
		if ready.Reason != sourcev1.AuthenticationFailedReason || fetch == nil || fetch.Status != metav1.ConditionTrue {
			t.Errorf("%s: Ready %s %q, FetchFailed %+v; want AuthenticationFailed", name, ready.Reason, ready.Message, fetch)
		}
	}
	obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "noca"}, metav1.ConditionFalse, nil)
	ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
	if !strings.Contains(ready.Message, "certificate") {
		t.Errorf("without the CA: Ready %s %q, want a certificate error", ready.Reason, ready.Message)
	}
	var list sourcev1.OCIRepositoryList
	if err := env.Client.List(t.Context(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Items {
		for _, c := range o.Status.Conditions {
			if strings.Contains(c.Message, password) || strings.Contains(c.Message, "other-password-value") {
				t.Errorf("%s: condition %s shows a password: %q", o.Name, c.Type, c.Message)
			}
		}
	}
	var events corev1.EventList
	if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Message, password) || strings.Contains(e.Message, "other-password-value") {
			t.Errorf("event %s shows a password: %q", e.Reason, e.Message)
		}
	}
}

// TestOCIRepositoryBadInput: an unknown tag, a layer with a path leaving the tree, a layer
// over the size limit, a registry that went down: Ready=False with Flux's reason and a message
// naming the tag or entry; the last good artifact is kept and still served.
func TestOCIRepositoryBadInput(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	good := reg.PushFiles(t, "app", "v1", map[string]string{"ok.yaml": "ok: true\n"}, oci.Metadata{})

	create(t, newOCIRepository(ns, "unknown", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v9.9.9"}))
	obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "unknown"}, metav1.ConditionFalse, ociMessageHas("v9.9.9"))
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready"); c.Reason != sourcev1.OCIPullFailedReason {
		t.Errorf("unknown tag: reason %s %q, want %s", c.Reason, c.Message, sourcev1.OCIPullFailedReason)
	}

	create(t, newOCIRepository(ns, "app", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1"}))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	before := waitOCI(t, key, metav1.ConditionTrue, ociRevisionIs("v1@"+good.String()))

	cases := []struct {
		name, want string
		content    []byte
	}{
		{"climb", "../escape.yaml", tarWith(t, &tarEntry{name: "../escape.yaml", body: "x"})},
		{"absolute", "/etc/evil.yaml", tarWith(t, &tarEntry{name: "/etc/evil.yaml", body: "x"})},
		{"hardlink", "link.yaml", tarWith(t, &tarEntry{name: "link.yaml", link: "ok.yaml", hard: true})},
		{"device", "dev", tarWith(t, &tarEntry{name: "dev", device: true})},
		{"not-gzip", "gzip", []byte("this is not a gzip tar")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg.PushContent(t, "app", "v1", c.content, oci.Metadata{})
			requestOCIReconcile(t, key)
			obj := waitOCI(t, key, metav1.ConditionFalse, ociMessageHas(c.want))
			ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
			if ready.Reason != sourcev1.OCILayerOperationFailedReason {
				t.Errorf("reason %s %q, want %s", ready.Reason, ready.Message, sourcev1.OCILayerOperationFailedReason)
			}
			if obj.Status.Artifact == nil || obj.Status.Artifact.Digest != before.Status.Artifact.Digest {
				t.Errorf("artifact %+v, want the last good one kept", obj.Status.Artifact)
			}
			if got := files(t, fetchStored(t, obj.Status.Artifact))["ok.yaml"]; got != "ok: true\n" {
				t.Errorf("served artifact lost ok.yaml: %q", got)
			}
		})
	}

	t.Run("registry-down", func(t *testing.T) {
		reg.SetDown(true)
		defer reg.SetDown(false)
		requestOCIReconcile(t, key)
		obj := waitOCI(t, key, metav1.ConditionFalse, ociMessageHas("503"))
		if c := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready"); c.Reason != sourcev1.OCIPullFailedReason {
			t.Errorf("registry down: reason %s %q", c.Reason, c.Message)
		}
		fetchStored(t, obj.Status.Artifact)
	})

	t.Run("manifest-too-large", func(t *testing.T) {
		reg.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/big") {
				w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
				w.Header().Set("Docker-Content-Digest", fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("a manifest never pushed"))))
				w.Header().Set("Content-Length", fmt.Sprint(8<<20))
				w.WriteHeader(http.StatusOK)
				return true
			}
			return false
		})
		defer reg.SetHook(nil)
		create(t, newOCIRepository(ns, "big", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "big"}))
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "big"}, metav1.ConditionFalse, ociMessageHas("size limit"))
		if obj.Status.Artifact != nil {
			t.Errorf("an artifact was stored from an oversized manifest: %+v", obj.Status.Artifact)
		}
	})
}

// TestOCIRepositoryIgnore leaves out what spec.ignore and .sourceignore exclude, and records
// observedIgnore; changing the rules rebuilds the artifact without a new digest.
func TestOCIRepositoryIgnore(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	reg.PushFiles(t, "app", "v1", map[string]string{
		"deploy/app.yaml": "a\n", "docs/readme.md": "r\n", ".sourceignore": "*.md\n", "charts/c.tar.gz": "bin",
	}, oci.Metadata{})
	create(t, newOCIRepository(ns, "app", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1"}))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	obj := waitOCI(t, key, metav1.ConditionTrue, nil)
	got := files(t, fetchStored(t, obj.Status.Artifact))
	if _, ok := got["docs/readme.md"]; ok || got["deploy/app.yaml"] != "a\n" {
		t.Errorf("default rules: files %v", got)
	}
	if _, ok := got["charts/c.tar.gz"]; ok {
		t.Errorf("default exclusions kept charts/c.tar.gz")
	}
	ignore := "deploy/\n"
	obj.Spec.Ignore = &ignore
	if err := env.Client.Update(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	obj = waitOCI(t, key, metav1.ConditionTrue, func(o *sourcev1.OCIRepository) error {
		if o.Status.ObservedIgnore == nil || *o.Status.ObservedIgnore != ignore {
			return fmt.Errorf("observedIgnore %v", o.Status.ObservedIgnore)
		}
		return nil
	})
	got = files(t, fetchStored(t, obj.Status.Artifact))
	if _, ok := got["deploy/app.yaml"]; ok {
		t.Errorf("spec.ignore 'deploy/' kept deploy/app.yaml: %v", got)
	}
	if _, ok := got["charts/c.tar.gz"]; !ok {
		t.Errorf("spec.ignore replaces the default exclusions, charts/c.tar.gz should be kept: %v", got)
	}
}

type tarEntry struct {
	name, body, link string
	hard, device     bool
}

// tarWith builds a gzip tar with a good file and the given entry, written by hand so that it
// can hold what weir never writes.
func tarWith(t *testing.T, e *tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	write := func(h *tar.Header, body string) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if body != "" {
			if _, err := tw.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(&tar.Header{Name: "ok.yaml", Mode: 0o644, Size: int64(len("ok: true\n")), Typeflag: tar.TypeReg}, "ok: true\n")
	switch {
	case e.hard:
		write(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: tar.TypeLink}, "")
	case e.device:
		write(&tar.Header{Name: e.name, Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, "")
	default:
		write(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}, e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOCIRepositorySlowAndLarge: a registry that does not answer within spec.timeout, and a
// layer over --artifact-max-size, fail with OCIArtifactPullFailed or
// OCIArtifactLayerOperationFailed naming the cause, and store nothing.
func TestOCIRepositorySlowAndLarge(t *testing.T) {
	env.StartManager(t, func(o *manager.Options) {
		o.Controllers = []string{"ocirepository"}
		o.ArtifactMaxSize = 64 << 10
		o.WatchLabelSelector = limitsLabel + "=small"
	})
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	reg.PushFiles(t, "app", "big", map[string]string{"big.txt": string(big)}, oci.Metadata{})
	reg.PushFiles(t, "app", "slow", map[string]string{"a.yaml": "a\n"}, oci.Metadata{})
	reg.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/manifests/slow") {
			<-r.Context().Done() // never answers; the client gives up at spec.timeout
			return true
		}
		return false
	})
	labelled := func(o *sourcev1.OCIRepository) *sourcev1.OCIRepository {
		o.Labels = map[string]string{limitsLabel: "small"}
		return o
	}
	create(t, labelled(newOCIRepository(ns, "big", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "big"})))
	slow := labelled(newOCIRepository(ns, "slow", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "slow"}))
	slow.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Second}
	create(t, slow)

	obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "big"}, metav1.ConditionFalse, ociMessageHas("65536"))
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready"); c.Reason != sourcev1.OCILayerOperationFailedReason ||
		!strings.Contains(c.Message, "too large") {
		t.Errorf("oversized layer: Ready %s %q", c.Reason, c.Message)
	}
	obj = waitOCI(t, client.ObjectKey{Namespace: ns, Name: "slow"}, metav1.ConditionFalse, ociMessageHas("slow"))
	if c := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready"); c.Reason != sourcev1.OCIPullFailedReason ||
		!strings.Contains(c.Message, "deadline exceeded") {
		t.Errorf("slow registry: Ready %s %q", c.Reason, c.Message)
	}
	for _, name := range []string{"big", "slow"} {
		var o sourcev1.OCIRepository
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &o); err != nil {
			t.Fatal(err)
		}
		if o.Status.Artifact != nil {
			t.Errorf("%s: artifact stored: %+v", name, o.Status.Artifact)
		}
	}
}
