package source_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// cosignKey is an ECDSA P-256 key pair as `cosign generate-key-pair` makes (the public half
// PEM-encoded, as cosign.pub).
type cosignKey struct {
	priv   *ecdsa.PrivateKey
	pubPEM []byte
}

func newCosignKey(t *testing.T) cosignKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return cosignKey{priv: priv, pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func digestRef(t *testing.T, reg *ociregistry.Registry, repo string, d v1.Hash) name.Digest {
	t.Helper()
	r, err := name.NewDigest(reg.Host()+"/"+repo+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signSimple signs the manifest d as `cosign sign --key` (cosign v2) does: a simple signing
// payload naming the digest, signed with the key, stored under the tag sha256-<hex>.sig.
func signSimple(t *testing.T, reg *ociregistry.Registry, repo string, d v1.Hash, key cosignKey) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": reg.Host() + "/" + repo},
			"image":    map[string]string{"docker-manifest-digest": d.String()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(payload, oci.SimpleSigningMediaType),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tag := digestRef(t, reg, repo, d).Context().Tag(d.Algorithm + "-" + d.Hex + ".sig")
	if err := remote.Write(tag, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
}

// rawManifest is a manifest written as it is.
type rawManifest struct {
	data []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// attachBundle signs the manifest d as cosign v3 does (a Sigstore bundle of an in-toto
// statement whose subject is the digest, by keypair, with a certificate when certs is set)
// and attaches the bundle as an OCI referrer.
func attachBundle(t *testing.T, reg *ociregistry.Registry, repo string, d v1.Hash, keypair sign.Keypair, certs sign.CertificateProvider) {
	t.Helper()
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": reg.Host() + "/" + repo, "digest": map[string]string{"sha256": d.Hex}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: "application/vnd.in-toto+json"}, keypair,
		sign.BundleOptions{CertificateProvider: certs, Context: t.Context()})
	if err != nil {
		t.Fatal(err)
	}
	bundleJSON, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	target := digestRef(t, reg, repo, d)
	ropts := []remote.Option{remote.WithContext(t.Context())}
	layer := static.NewLayer(bundleJSON, oci.BundleArtifactType)
	config := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	for _, l := range []v1.Layer{layer, config} {
		if err := remote.WriteLayer(target.Context(), l, ropts...); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer) map[string]any {
		dg, _ := l.Digest()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		return map[string]any{"mediaType": mt, "digest": dg.String(), "size": size}
	}
	subject, err := remote.Head(target, ropts...)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": oci.BundleArtifactType,
		"config": desc(config), "layers": []any{desc(layer)},
		"subject": map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest.String(), "size": subject.Size},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := sha256.Sum256(manifest)
	ref := target.Context().Digest(fmt.Sprintf("sha256:%x", md))
	if err := remote.Put(ref, rawManifest{manifest, types.OCIManifestSchema1}, ropts...); err != nil {
		t.Fatal(err)
	}
}

// testFulcio issues short-lived code signing certificates for an OIDC identity, as Fulcio
// does, from a private CA.
type testFulcio struct {
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	issuer  string
	subject string
}

func newTestFulcio(t *testing.T, issuer, subject string) *testFulcio {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weir test fulcio"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testFulcio{ca: ca, caKey: key, issuer: issuer, subject: subject}
}

// GetCertificate issues a leaf certificate for the keypair's public key.
func (f *testFulcio) GetCertificate(_ context.Context, kp sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	san, err := url.Parse(f.subject)
	if err != nil {
		return nil, err
	}
	issuerValue, err := asn1.MarshalWithParams(f.issuer, "utf8")
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:            []*url.URL{san},
		ExtraExtensions: []pkix.Extension{{Id: certificate.OIDIssuerV2, Value: issuerValue}},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, f.ca, kp.GetPublicKey(), f.caKey)
}

// trustedRoot is the trusted_root.json of a private Sigstore made of this CA alone.
func (f *testFulcio) trustedRoot(t *testing.T) []byte {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: f.ca, ValidityPeriodStart: f.ca.NotBefore, URI: "https://fulcio.test"}},
		nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func verifiedRepository(ns, name, url, tag string, v *sourcev1.OCIRepositoryVerification) *sourcev1.OCIRepository {
	o := newOCIRepository(ns, name, url, &sourcev1.OCIRepositoryRef{Tag: tag})
	o.Spec.Verify = v
	return o
}

func sourceVerified(status metav1.ConditionStatus, sub string) func(*sourcev1.OCIRepository) error {
	return func(o *sourcev1.OCIRepository) error {
		c := apimeta.FindStatusCondition(o.Status.Conditions, "SourceVerified")
		if c == nil || c.Status != status || !strings.Contains(c.Message, sub) {
			return fmt.Errorf("SourceVerified = %+v, want %s with %q", c, status, sub)
		}
		return nil
	}
}

// TestOCIRepositoryCosignKeys verifies cosign signatures made with a key, in both of cosign's
// formats (v2's sha256-<hex>.sig tag and v3's bundle referrer): a signature by the key in the
// Secret verifies; another key's, or none, fails with VerificationError and stores nothing;
// a new unsigned push of a verified tag keeps the verified artifact.
func TestOCIRepositoryCosignKeys(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	key, other := newCosignKey(t), newCosignKey(t)
	createSecret(t, ns, "cosign-pub", map[string][]byte{"cosign.pub": key.pubPEM})

	legacy := reg.PushFiles(t, "app", "legacy", map[string]string{"a.yaml": "legacy\n"}, oci.Metadata{})
	signSimple(t, reg, "app", legacy, key)
	bundled := reg.PushFiles(t, "app", "bundled", map[string]string{"a.yaml": "bundled\n"}, oci.Metadata{})
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := kp.GetPublicKeyPem()
	if err != nil {
		t.Fatal(err)
	}
	createSecret(t, ns, "bundle-pub", map[string][]byte{"cosign.pub": []byte(pubPEM)})
	attachBundle(t, reg, "app", bundled, kp, nil)
	wrong := reg.PushFiles(t, "app", "wrong", map[string]string{"a.yaml": "wrong\n"}, oci.Metadata{})
	signSimple(t, reg, "app", wrong, other)
	reg.PushFiles(t, "app", "unsigned", map[string]string{"a.yaml": "unsigned\n"}, oci.Metadata{})

	cosign := func(secret string) *sourcev1.OCIRepositoryVerification {
		return &sourcev1.OCIRepositoryVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: secret}}
	}
	create(t, verifiedRepository(ns, "legacy", reg.URL("app"), "legacy", cosign("cosign-pub")))
	create(t, verifiedRepository(ns, "bundled", reg.URL("app"), "bundled", cosign("bundle-pub")))
	create(t, verifiedRepository(ns, "wrong", reg.URL("app"), "wrong", cosign("cosign-pub")))
	create(t, verifiedRepository(ns, "unsigned", reg.URL("app"), "unsigned", cosign("cosign-pub")))

	for name, d := range map[string]v1.Hash{"legacy": legacy, "bundled": bundled} {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionTrue,
			sourceVerified(metav1.ConditionTrue, "verified signature of revision "+name+"@"+d.String()))
		if got := files(t, fetchStored(t, obj.Status.Artifact))["a.yaml"]; got != name+"\n" {
			t.Errorf("%s: a.yaml = %q", name, got)
		}
	}
	for _, name := range []string{"wrong", "unsigned"} {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionFalse,
			sourceVerified(metav1.ConditionFalse, "failed to verify the signature using provider 'cosign'"))
		ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
		if ready.Reason != "VerificationError" || !strings.Contains(ready.Message, "no matching signatures were found") {
			t.Errorf("%s: Ready %s %q", name, ready.Reason, ready.Message)
		}
		if obj.Status.Artifact != nil {
			t.Errorf("%s: an artifact was stored without a verified signature: %+v", name, obj.Status.Artifact)
		}
	}

	// An unsigned push to the verified tag: the verified artifact stays.
	key1 := client.ObjectKey{Namespace: ns, Name: "legacy"}
	reg.PushFiles(t, "app", "legacy", map[string]string{"a.yaml": "tampered\n"}, oci.Metadata{})
	requestOCIReconcile(t, key1)
	obj := waitOCI(t, key1, metav1.ConditionFalse, sourceVerified(metav1.ConditionFalse, "no matching signatures"))
	if obj.Status.Artifact == nil || obj.Status.Artifact.Revision != "legacy@"+legacy.String() {
		t.Errorf("artifact %+v, want the verified one kept", obj.Status.Artifact)
	}
	if got := files(t, fetchStored(t, obj.Status.Artifact))["a.yaml"]; got != "legacy\n" {
		t.Errorf("served a.yaml = %q, want the verified content", got)
	}
}

// TestOCIRepositoryCosignKeyless verifies keyless signatures (a bundle with a certificate of
// a private Fulcio) against the trusted root in trustedRootSecretRef and matchOIDCIdentity.
func TestOCIRepositoryCosignKeyless(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	const issuer, subject = "https://token.actions.githubusercontent.com", "https://github.com/example/app/.github/workflows/release.yaml@refs/heads/main"
	fulcio := newTestFulcio(t, issuer, subject)
	createSecret(t, ns, "sigstore", map[string][]byte{"trusted_root.json": fulcio.trustedRoot(t)})
	d := reg.PushFiles(t, "app", "v1", map[string]string{"a.yaml": "keyless\n"}, oci.Metadata{})
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	attachBundle(t, reg, "app", d, kp, fulcio)
	// A signature by a certificate of another CA, on another tag.
	stranger := newTestFulcio(t, issuer, subject)
	d2 := reg.PushFiles(t, "app", "v2", map[string]string{"a.yaml": "other ca\n"}, oci.Metadata{})
	attachBundle(t, reg, "app", d2, kp, stranger)

	keyless := func(match ...sourcev1.OIDCIdentityMatch) *sourcev1.OCIRepositoryVerification {
		return &sourcev1.OCIRepositoryVerification{Provider: "cosign", MatchOIDCIdentity: match,
			TrustedRootSecretRef: &meta.LocalObjectReference{Name: "sigstore"}}
	}
	create(t, verifiedRepository(ns, "match", reg.URL("app"), "v1", keyless(
		sourcev1.OIDCIdentityMatch{Issuer: "^https://accounts.google.com$", Subject: ".*"},
		sourcev1.OIDCIdentityMatch{Issuer: "^https://token.actions.githubusercontent.com$", Subject: "^https://github.com/example/app/.*$"})))
	create(t, verifiedRepository(ns, "any", reg.URL("app"), "v1", keyless()))
	create(t, verifiedRepository(ns, "nomatch", reg.URL("app"), "v1", keyless(
		sourcev1.OIDCIdentityMatch{Issuer: "^https://token.actions.githubusercontent.com$", Subject: "^https://github.com/someone-else/.*$"})))
	create(t, verifiedRepository(ns, "otherca", reg.URL("app"), "v2", keyless()))
	noRoot := verifiedRepository(ns, "noroot", reg.URL("app"), "v1", keyless())
	noRoot.Spec.Verify.TrustedRootSecretRef = nil
	create(t, noRoot)

	for _, name := range []string{"match", "any"} {
		waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionTrue,
			sourceVerified(metav1.ConditionTrue, "verified signature of revision v1@"+d.String()))
	}
	for name, sub := range map[string]string{"nomatch": "someone-else", "otherca": "certificate", "noroot": "trusted root"} {
		obj := waitOCI(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionFalse,
			sourceVerified(metav1.ConditionFalse, "failed to verify the signature using provider 'cosign keyless'"))
		ready := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready")
		if ready.Reason != "VerificationError" || !strings.Contains(ready.Message, sub) {
			t.Errorf("%s: Ready %s %q, want VerificationError naming %q", name, ready.Reason, ready.Message, sub)
		}
		if obj.Status.Artifact != nil {
			t.Errorf("%s: artifact stored without a verified signature", name)
		}
	}
}
