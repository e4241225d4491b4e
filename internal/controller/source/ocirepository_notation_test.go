package source_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"oras.land/oras-go/v2/registry/remote"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// notationCA is a certificate authority and a code signing certificate it issued, as
// `notation cert generate-test` makes them.
type notationCA struct {
	caPEM []byte
	leaf  *x509.Certificate
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
}

func newNotationCA(t *testing.T, name string) notationCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA", Organization: []string{"weir"}, Country: []string{"US"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name, Organization: []string{"weir"}, Country: []string{"US"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return notationCA{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), leaf: leaf, ca: ca, key: key}
}

// notationSign signs repo@digest as `notation sign` does, storing the signature as an OCI
// referrer of the artifact.
func notationSign(t *testing.T, reg *ociregistry.Registry, repo, digest string, ca notationCA) {
	t.Helper()
	s, err := signer.NewGenericSigner(ca.key, []*x509.Certificate{ca.leaf, ca.ca})
	if err != nil {
		t.Fatal(err)
	}
	r, err := remote.NewRepository(reg.Host() + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	_, err = notation.Sign(t.Context(), s, registry.NewRepository(r), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: "application/jose+json"},
		ArtifactReference: reg.Host() + "/" + repo + "@" + digest,
	})
	if err != nil {
		t.Fatal(err)
	}
}

const trustPolicy = `{
  "version": "1.0",
  "trustPolicies": [{
    "name": "weir-test",
    "registryScopes": ["*"],
    "signatureVerification": {"level": "strict"},
    "trustStores": ["ca:weir"],
    "trustedIdentities": ["*"]
  }]
}`

// TestOCIRepositoryNotation verifies notation signatures with the trust policy and the CA
// certificate of the verification Secret: a signature chaining to the CA verifies, one by
// another CA or none fails with VerificationError and stores nothing.
func TestOCIRepositoryNotation(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	trusted, stranger := newNotationCA(t, "trusted"), newNotationCA(t, "stranger")
	createSecret(t, ns, "notation", map[string][]byte{"trustpolicy.json": []byte(trustPolicy), "ca.pem": trusted.caPEM})
	signed := reg.PushFiles(t, "app", "signed", map[string]string{"a.yaml": "signed\n"}, oci.Metadata{})
	notationSign(t, reg, "app", signed.String(), trusted)
	other := reg.PushFiles(t, "app", "other", map[string]string{"a.yaml": "other\n"}, oci.Metadata{})
	notationSign(t, reg, "app", other.String(), stranger)
	reg.PushFiles(t, "app", "unsigned", map[string]string{"a.yaml": "unsigned\n"}, oci.Metadata{})

	for _, tag := range []string{"signed", "other", "unsigned"} {
		o := verifiedRepository(ns, tag, reg.URL("app"), tag, &sourcev1.OCIRepositoryVerification{
			Provider: "notation", SecretRef: &meta.LocalObjectReference{Name: "notation"}})
		o.Spec.Insecure = true
		create(t, o)
	}
	obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: "signed"}, metav1.ConditionTrue,
		sourceVerified(metav1.ConditionTrue, "verified signature of revision signed@"+signed.String()))
	if got := files(t, fetchStored(t, obj.Status.Artifact))["a.yaml"]; got != "signed\n" {
		t.Errorf("a.yaml = %q", got)
	}
	for _, name := range []string{"other", "unsigned"} {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionFalse,
			sourceVerified(metav1.ConditionFalse, "failed to verify the signature using provider 'notation'"))
		ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
		if ready.Reason != "VerificationError" || !strings.Contains(ready.Message, "no matching signatures") {
			t.Errorf("%s: Ready %s %q", name, ready.Reason, ready.Message)
		}
		if obj.Status.Artifact != nil {
			t.Errorf("%s: artifact stored without a verified signature", name)
		}
	}
}
