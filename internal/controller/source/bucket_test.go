package source_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/s3server"
)

func newBucket(ns, name, endpoint, bucketName string) *sourcev1.Bucket {
	return &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.BucketSpec{
			BucketName: bucketName, Endpoint: endpoint, Insecure: true,
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
}

func waitBucket(t *testing.T, key client.ObjectKey, status metav1.ConditionStatus, check func(*sourcev1.Bucket) error) *sourcev1.Bucket {
	t.Helper()
	return waitSource(t, key, &sourcev1.Bucket{}, status, check)
}

func bucketMessageHas(sub string) func(*sourcev1.Bucket) error {
	return func(o *sourcev1.Bucket) error {
		c := apimeta.FindStatusCondition(o.Status.Conditions, "Ready")
		if c == nil || !strings.Contains(c.Message, sub) {
			return fmt.Errorf("Ready = %+v, want a message with %q", c, sub)
		}
		return nil
	}
}

// TestBucket fetches a bucket's objects under a prefix, without what the root .sourceignore
// and spec.ignore leave out; the revision is the index digest, so an unchanged bucket stores
// nothing new and downloads nothing, and a changed object gives a new artifact.
func TestBucket(t *testing.T) {
	s3 := s3server.New(t, s3server.Options{AccessKey: "weir-access"})
	s3.CreateBucket(t, "manifests")
	s3.Put(t, "manifests", "apps/a.yaml", "a: 1\n")
	s3.Put(t, "manifests", "apps/sub/b.yaml", "b: 1\n")
	s3.Put(t, "manifests", "apps/notes.md", "notes\n")
	s3.Put(t, "manifests", "apps/skip.txt", "skip\n")
	s3.Put(t, "manifests", "other/c.yaml", "c: 1\n")
	s3.Put(t, "manifests", ".sourceignore", "*.md\n")
	ns := env.Namespace(t)
	createSecret(t, ns, "s3", map[string][]byte{"accesskey": []byte("weir-access"), "secretkey": []byte("weir-secret-key")})
	b := newBucket(ns, "manifests", s3.Endpoint(), "manifests")
	b.Spec.Prefix = "apps/"
	ignore := "*.txt\n"
	b.Spec.Ignore = &ignore
	b.Spec.SecretRef = &meta.LocalObjectReference{Name: "s3"}
	create(t, b)
	key := client.ObjectKey{Namespace: ns, Name: "manifests"}
	obj := waitBucket(t, key, metav1.ConditionTrue, nil)
	if !strings.HasPrefix(obj.Status.Artifact.Revision, "sha256:") || len(obj.Status.Artifact.Revision) != 71 {
		t.Errorf("revision %q, want sha256:<hex>", obj.Status.Artifact.Revision)
	}
	ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
	if want := fmt.Sprintf("stored artifact: revision '%s'", obj.Status.Artifact.Revision); ready.Message != want {
		t.Errorf("Ready message %q, want %q", ready.Message, want)
	}
	got := files(t, fetchStored(t, obj.Status.Artifact))
	want := map[string]string{"apps/a.yaml": "a: 1\n", "apps/sub/b.yaml": "b: 1\n"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("artifact files %v, want %v", got, want)
	}

	gets := s3.ObjectGets()
	first := obj.Status.Artifact.DeepCopy()
	at := requestBucketReconcile(t, key)
	obj = waitBucket(t, key, metav1.ConditionTrue, func(o *sourcev1.Bucket) error {
		if o.Status.LastHandledReconcileAt != at {
			return fmt.Errorf("not reconciled yet")
		}
		return nil
	})
	if obj.Status.Artifact.Revision != first.Revision || !obj.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Errorf("unchanged bucket gave a new artifact: %+v -> %+v", first, obj.Status.Artifact)
	}
	// Only the root .sourceignore is read again, no object under the prefix.
	if n := s3.ObjectGets() - gets; n > 1 {
		t.Errorf("%d object downloads for an unchanged bucket, want at most the .sourceignore", n)
	}

	s3.Put(t, "manifests", "apps/a.yaml", "a: 2\n")
	requestBucketReconcile(t, key)
	obj = waitBucket(t, key, metav1.ConditionTrue, func(o *sourcev1.Bucket) error {
		if o.Status.Artifact.Revision == first.Revision {
			return fmt.Errorf("still at %s", first.Revision)
		}
		return nil
	})
	if got := files(t, fetchStored(t, obj.Status.Artifact))["apps/a.yaml"]; got != "a: 2\n" {
		t.Errorf("a.yaml = %q after the change", got)
	}
}

func requestBucketReconcile(t *testing.T, key client.ObjectKey) string {
	t.Helper()
	at := time.Now().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, at)
	obj := &sourcev1.Bucket{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	if err := env.Client.Patch(t.Context(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
	return at
}

// TestBucketBadInput: a missing bucket, wrong keys, a key that climbs out of the tree, an
// STS configuration Flux refuses; each fails with Flux's reason and a message naming the
// cause, no secret shown, and the last good artifact kept.
func TestBucketBadInput(t *testing.T) {
	s3 := s3server.New(t, s3server.Options{AccessKey: "right-key"})
	s3.CreateBucket(t, "data")
	s3.Put(t, "data", "ok.yaml", "ok: true\n")
	ns := env.Namespace(t)
	createSecret(t, ns, "right", map[string][]byte{"accesskey": []byte("right-key"), "secretkey": []byte("secret-value-123")})
	createSecret(t, ns, "wrong", map[string][]byte{"accesskey": []byte("wrong-key"), "secretkey": []byte("secret-value-456")})
	createSecret(t, ns, "partial", map[string][]byte{"accesskey": []byte("right-key")})

	missing := newBucket(ns, "missing", s3.Endpoint(), "nope")
	missing.Spec.SecretRef = &meta.LocalObjectReference{Name: "right"}
	wrong := newBucket(ns, "wrong", s3.Endpoint(), "data")
	wrong.Spec.SecretRef = &meta.LocalObjectReference{Name: "wrong"}
	partial := newBucket(ns, "partial", s3.Endpoint(), "data")
	partial.Spec.SecretRef = &meta.LocalObjectReference{Name: "partial"}
	sts := newBucket(ns, "sts", s3.Endpoint(), "data")
	sts.Spec.STS = &sourcev1.BucketSTSSpec{Provider: "ldap", Endpoint: "https://sts.example.com",
		SecretRef: &meta.LocalObjectReference{Name: "partial"}}
	good := newBucket(ns, "good", s3.Endpoint(), "data")
	good.Spec.SecretRef = &meta.LocalObjectReference{Name: "right"}
	for _, o := range []*sourcev1.Bucket{missing, wrong, partial, sts, good} {
		create(t, o)
	}
	checks := []struct {
		name, reason, message string
		stalled               bool
	}{
		{"missing", sourcev1.BucketOperationFailedReason, "bucket 'nope' not found", false},
		{"wrong", sourcev1.BucketOperationFailedReason, "failed to confirm existence of 'data' bucket", false},
		{"partial", sourcev1.AuthenticationFailedReason, "invalid 'partial' secret data: required fields 'accesskey' and 'secretkey'", false},
		{"sts", sourcev1.AuthenticationFailedReason, "invalid 'partial' secret data for 'ldap' STS provider: required fields username, password", false},
	}
	for _, c := range checks {
		obj := waitBucket(t, client.ObjectKey{Namespace: ns, Name: c.name}, metav1.ConditionFalse, bucketMessageHas(c.message))
		ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
		if ready.Reason != c.reason || apimeta.IsStatusConditionTrue(obj.Status.Conditions, "Stalled") != c.stalled {
			t.Errorf("%s: Ready %s %q stalled=%v, want %s stalled=%v", c.name, ready.Reason, ready.Message,
				apimeta.IsStatusConditionTrue(obj.Status.Conditions, "Stalled"), c.reason, c.stalled)
		}
		if strings.Contains(ready.Message, "secret-value") {
			t.Errorf("%s: message shows the secret key: %q", c.name, ready.Message)
		}
	}

	key := client.ObjectKey{Namespace: ns, Name: "good"}
	before := waitBucket(t, key, metav1.ConditionTrue, nil)
	s3.Put(t, "data", "../escape.yaml", "x")
	requestBucketReconcile(t, key)
	obj := waitBucket(t, key, metav1.ConditionFalse, bucketMessageHas("../escape.yaml"))
	if obj.Status.Artifact == nil || obj.Status.Artifact.Digest != before.Status.Artifact.Digest {
		t.Errorf("artifact %+v, want the last good one kept", obj.Status.Artifact)
	}
	fetchStored(t, obj.Status.Artifact)
	var events corev1.EventList
	if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Message, "secret-value") {
			t.Errorf("event %s shows a secret key: %q", e.Reason, e.Message)
		}
	}
}
