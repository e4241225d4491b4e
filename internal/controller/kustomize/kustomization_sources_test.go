package kustomize_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
	"github.com/weirgitops/weir/internal/testenv/s3server"
)

func fromSource(kind, name string) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: name}
	}
}

// TestKustomizationFromOCIRepository applies an artifact pushed to a registry ("gitless"),
// records the artifact's and its origin's revisions, and applies the next push of the tag.
func TestKustomizationFromOCIRepository(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	origin := "main@sha1:" + strings.Repeat("a", 40)
	d1 := reg.PushFiles(t, "manifests/app", "production", map[string]string{"deploy/cm.yaml": configMapYAML(ns, "app", "one")},
		oci.Metadata{Source: "https://github.com/example/app", Revision: origin})
	repo := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: sourcev1.OCIRepositorySpec{URL: reg.URL("manifests/app"), Reference: &sourcev1.OCIRepositoryRef{Tag: "production"},
			Interval: metav1.Duration{Duration: time.Hour}},
	}
	createAll(t, repo, kustomization(ns, "app", "./deploy", fromSource("OCIRepository", "app")))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(ks *kustomizev1.Kustomization) error {
		if ks.Status.LastAppliedRevision != "production@"+d1.String() {
			return fmt.Errorf("lastAppliedRevision %q", ks.Status.LastAppliedRevision)
		}
		if ks.Status.LastAppliedOriginRevision != origin {
			return fmt.Errorf("lastAppliedOriginRevision %q, want %q", ks.Status.LastAppliedOriginRevision, origin)
		}
		return nil
	})
	if v := configMapValue(t, ns, "app"); v != "one" {
		t.Fatalf("ConfigMap value %q, want one", v)
	}

	d2 := reg.PushFiles(t, "manifests/app", "production", map[string]string{"deploy/cm.yaml": configMapYAML(ns, "app", "two")}, oci.Metadata{})
	env.RequestReconcile(t, repo)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(ks *kustomizev1.Kustomization) error {
		if ks.Status.LastAppliedRevision != "production@"+d2.String() {
			return fmt.Errorf("lastAppliedRevision %q", ks.Status.LastAppliedRevision)
		}
		return nil
	})
	if v := configMapValue(t, ns, "app"); v != "two" {
		t.Fatalf("ConfigMap value %q after the new push, want two", v)
	}
}

// externalArtifact creates an ExternalArtifact whose status points at an artifact served by
// another server, as a third-party controller (Flux's source-watcher) writes it.
func externalArtifact(t *testing.T, ns, name string, a *meta.Artifact, labels map[string]string) *sourcev1.ExternalArtifact {
	t.Helper()
	ea := &sourcev1.ExternalArtifact{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	if err := env.Client.Create(t.Context(), ea); err != nil {
		t.Fatal(err)
	}
	setExternalArtifact(t, ea, a)
	return ea
}

func setExternalArtifact(t *testing.T, ea *sourcev1.ExternalArtifact, a *meta.Artifact) {
	t.Helper()
	ea.Status.Artifact = a
	ea.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded",
		Message: "stored artifact for revision " + a.Revision, LastTransitionTime: metav1.Now()}}
	if err := env.Client.Status().Update(t.Context(), ea); err != nil {
		t.Fatal(err)
	}
}

// serveArtifacts serves tar.gz archives by path, as another controller's artifact server.
func serveArtifacts(t *testing.T, archives map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := archives[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func artifactAt(url, revision string, data []byte) *meta.Artifact {
	size := int64(len(data))
	return &meta.Artifact{Path: "externalartifact/x.tar.gz", URL: url, Revision: revision,
		Digest: fmt.Sprintf("sha256:%x", sha256.Sum256(data)), Size: &size, LastUpdateTime: metav1.Now()}
}

// TestKustomizationFromExternalArtifact builds from an ExternalArtifact, downloading its
// artifact from the server its status names and checking the digest; a changed artifact is
// applied, a digest mismatch fails with ArtifactFailed and keeps what was applied, and with
// the gate off the reference is refused as Flux refuses it.
func TestKustomizationFromExternalArtifact(t *testing.T) {
	ns := env.Namespace(t)
	one := ociregistry.TarGz(t, map[string]string{"cm.yaml": configMapYAML(ns, "ext", "one")})
	two := ociregistry.TarGz(t, map[string]string{"cm.yaml": configMapYAML(ns, "ext", "two")})
	srv := serveArtifacts(t, map[string][]byte{"/one.tar.gz": one, "/two.tar.gz": two})

	ea := externalArtifact(t, ns, "generated", artifactAt(srv.URL+"/one.tar.gz", "latest@sha256:1", one), nil)
	createAll(t, kustomization(ns, "ext", "./", fromSource("ExternalArtifact", "generated")))
	key := client.ObjectKey{Namespace: ns, Name: "ext"}
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(ks *kustomizev1.Kustomization) error {
		if ks.Status.LastAppliedRevision != "latest@sha256:1" {
			return fmt.Errorf("lastAppliedRevision %q", ks.Status.LastAppliedRevision)
		}
		return nil
	})
	if v := configMapValue(t, ns, "ext"); v != "one" {
		t.Fatalf("value %q, want one", v)
	}

	setExternalArtifact(t, ea, artifactAt(srv.URL+"/two.tar.gz", "latest@sha256:2", two))
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(ks *kustomizev1.Kustomization) error {
		if ks.Status.LastAppliedRevision != "latest@sha256:2" {
			return fmt.Errorf("lastAppliedRevision %q", ks.Status.LastAppliedRevision)
		}
		return nil
	})
	if v := configMapValue(t, ns, "ext"); v != "two" {
		t.Fatalf("value %q, want two", v)
	}

	bad := artifactAt(srv.URL+"/one.tar.gz", "latest@sha256:3", one)
	bad.Digest = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("something else")))
	setExternalArtifact(t, ea, bad)
	c := readyCondition(t, key, "ArtifactFailed", time.Minute)
	if !strings.Contains(c.Message, "does not match") {
		t.Errorf("digest mismatch: message %q", c.Message)
	}
	if v := configMapValue(t, ns, "ext"); v != "two" {
		t.Errorf("value %q after a bad artifact, want two kept", v)
	}

	t.Run("gate-off", func(t *testing.T) {
		label := withGates(t, "ExternalArtifact=false")
		ns := env.Namespace(t)
		externalArtifact(t, ns, "generated", artifactAt(srv.URL+"/one.tar.gz", "latest@sha256:1", one), nil)
		createAll(t, label(kustomization(ns, "ext", "./", fromSource("ExternalArtifact", "generated"))))
		ks := waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "ext"}, metav1.ConditionFalse, time.Minute, nil)
		ready := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		want := fmt.Sprintf("can't access 'ExternalArtifact/%s/generated', ExternalArtifact feature gate is disabled", ns)
		if ready.Reason != "AccessDenied" || ready.Message != want || !apimeta.IsStatusConditionTrue(ks.Status.Conditions, "Stalled") {
			t.Errorf("Ready %s %q, want stalled AccessDenied %q", ready.Reason, ready.Message, want)
		}
	})
}

// TestKustomizationFromBucket applies manifests kept in an S3-compatible bucket and applies a
// changed object on the next reconcile of the Bucket.
func TestKustomizationFromBucket(t *testing.T) {
	s3 := s3server.New(t, s3server.Options{})
	s3.CreateBucket(t, "fleet")
	ns := env.Namespace(t)
	s3.Put(t, "fleet", "clusters/prod/cm.yaml", configMapYAML(ns, "bucket", "one"))
	b := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"},
		Spec: sourcev1.BucketSpec{BucketName: "fleet", Endpoint: s3.Endpoint(), Insecure: true,
			Interval: metav1.Duration{Duration: time.Hour}},
	}
	createAll(t, b, kustomization(ns, "prod", "./clusters/prod", fromSource("Bucket", "fleet")))
	key := client.ObjectKey{Namespace: ns, Name: "prod"}
	first := waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)
	if v := configMapValue(t, ns, "bucket"); v != "one" {
		t.Fatalf("value %q, want one", v)
	}
	s3.Put(t, "fleet", "clusters/prod/cm.yaml", configMapYAML(ns, "bucket", "two"))
	env.RequestReconcile(t, b)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(ks *kustomizev1.Kustomization) error {
		if ks.Status.LastAppliedRevision == first.Status.LastAppliedRevision {
			return fmt.Errorf("still at %s", ks.Status.LastAppliedRevision)
		}
		return nil
	})
	if v := configMapValue(t, ns, "bucket"); v != "two" {
		t.Fatalf("value %q, want two", v)
	}
}
