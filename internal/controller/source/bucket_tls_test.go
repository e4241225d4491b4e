package source_test

import (
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/s3server"
)

// TestBucketTLS reads a bucket over HTTPS with a private CA from spec.certSecretRef; without
// the CA the server's certificate is refused.
func TestBucketTLS(t *testing.T) {
	s3 := s3server.New(t, s3server.Options{TLS: true})
	s3.CreateBucket(t, "secure")
	s3.Put(t, "secure", "a.yaml", "a: tls\n")
	ns := env.Namespace(t)
	createSecret(t, ns, "ca", map[string][]byte{"ca.crt": s3.CAPEM()})
	b := newBucket(ns, "secure", s3.Endpoint(), "secure")
	b.Spec.Insecure = false
	b.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	create(t, b)
	obj := waitBucket(t, client.ObjectKey{Namespace: ns, Name: "secure"}, metav1.ConditionTrue, nil)
	if got := files(t, fetchStored(t, obj.Status.Artifact))["a.yaml"]; got != "a: tls\n" {
		t.Errorf("a.yaml = %q", got)
	}
	noCA := newBucket(ns, "noca", s3.Endpoint(), "secure")
	noCA.Spec.Insecure = false
	create(t, noCA)
	waitBucket(t, client.ObjectKey{Namespace: ns, Name: "noca"}, metav1.ConditionFalse, bucketMessageHas("certificate"))
}
