package oci

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Cosign's signature formats.
const (
	// BundleArtifactType is the artifact type of a Sigstore bundle attached to an image as an
	// OCI referrer (cosign v3).
	BundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// SimpleSigningMediaType is the layer media type of cosign v2 signatures, stored in the
	// image's repository under the tag sha256-<hex>.sig.
	SimpleSigningMediaType = "application/vnd.dev.cosignproject.cosign.simplesigning.v1+json"
	// signatureAnnotation holds the base64 signature of a simple signing layer.
	signatureAnnotation = "dev.cosignproject.cosign/signature"
	// maxSignatureBlob bounds a signature layer or bundle.
	maxSignatureBlob = 1 << 20
)

// ErrVerification means no signature of the artifact verified.
var ErrVerification = errors.New("no matching signatures")

// Identity is a keyless signer's accepted OIDC identity: regular expressions for the issuer
// and the subject (the certificate's SAN).
type Identity struct {
	Issuer, Subject string
}

// Cosign verifies cosign signatures of an artifact: with public keys, or keyless against a
// Sigstore trusted root and OIDC identities.
type Cosign struct {
	// Keys are PEM public keys; when set, verification is with keys only.
	Keys [][]byte
	// TrustedRoot is a Sigstore trusted_root.json, for keyless verification.
	TrustedRoot []byte
	// Identities accepted for keyless signatures; none accepts any identity of the root's CAs.
	Identities []Identity
}

// Verify checks that res has a cosign signature that verifies: a Sigstore bundle attached as
// an OCI referrer (cosign v3), or a simple signing signature under the sha256-<hex>.sig tag
// (cosign v2, keys only). It returns which signature verified.
func (c Cosign) Verify(ctx context.Context, res Resolved, opts Options) (string, error) {
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return "", err
	}
	keys := make([]crypto.PublicKey, 0, len(c.Keys))
	for i, k := range c.Keys {
		pub, err := parsePublicKey(k)
		if err != nil {
			return "", fmt.Errorf("public key %d: %w", i+1, err)
		}
		keys = append(keys, pub)
	}
	var material root.TrustedMaterial
	if len(keys) == 0 {
		if len(c.TrustedRoot) == 0 {
			return "", errors.New("keyless verification needs a Sigstore trusted root (verify.trustedRootSecretRef with trusted_root.json): " +
				"weir cannot reach the public Sigstore instance's TUF repository")
		}
		tr, err := root.NewTrustedRootFromJSON(c.TrustedRoot)
		if err != nil {
			return "", fmt.Errorf("invalid trusted_root.json: %w", err)
		}
		material = tr
	}

	bundles, err := referredBundles(res, ropts)
	if err != nil {
		return "", err
	}
	var failures []error
	for _, b := range bundles {
		if len(keys) > 0 {
			for _, k := range keys {
				err := verifyBundleWithKey(b, k, res.Digest)
				if err == nil {
					return "cosign", nil
				}
				failures = append(failures, err)
			}
			continue
		}
		err := c.verifyBundleKeyless(b, material, res.Digest)
		if err == nil {
			return "cosign keyless", nil
		}
		failures = append(failures, err)
	}
	if len(keys) > 0 {
		sigs, err := simpleSignatures(res, ropts)
		if err != nil {
			return "", err
		}
		for _, s := range sigs {
			for _, k := range keys {
				err := s.verify(k, res.Digest)
				if err == nil {
					return "cosign", nil
				}
				failures = append(failures, err)
			}
		}
	}
	if len(failures) == 0 {
		return "", fmt.Errorf("%w were found for '%s': the artifact has no cosign signature", ErrVerification, res.Ref)
	}
	return "", fmt.Errorf("%w were found for '%s': %w", ErrVerification, res.Ref, errors.Join(failures...))
}

// parsePublicKey reads a PEM public key (PKIX), as cosign writes cosign.pub.
func parsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM public key")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PEM public key: %w", err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return pub, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// referredBundles returns the Sigstore bundles attached to the manifest as OCI referrers.
func referredBundles(res Resolved, ropts []remote.Option) ([]*bundle.Bundle, error) {
	idx, err := remote.Referrers(res.Ref, ropts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, classify(err, fmt.Sprintf("referrers of '%s'", res.Ref))
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []*bundle.Bundle
	for _, d := range m.Manifests {
		// Registries report the manifest's artifactType, or, some of them, its config media
		// type: a bundle may hide behind OCI's empty config.
		if d.ArtifactType != BundleArtifactType && d.ArtifactType != emptyConfigMediaType && d.ArtifactType != "" {
			continue
		}
		data, err := bundleLayer(res.Ref.Context().Digest(d.Digest.String()), ropts)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue
		}
		var b bundle.Bundle
		if err := b.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("signature bundle '%s': %w", d.Digest, err)
		}
		out = append(out, &b)
	}
	return out, nil
}

func isNotFound(err error) bool {
	return errors.Is(classify(err, ""), ErrNotFound)
}

// emptyConfigMediaType is OCI's empty config, which artifacts such as bundles carry.
const emptyConfigMediaType = "application/vnd.oci.empty.v1+json"

// bundleLayer reads the Sigstore bundle of the referrer manifest ref names, within
// maxSignatureBlob; nil when the manifest is not a bundle.
func bundleLayer(ref name.Digest, ropts []remote.Option) ([]byte, error) {
	img, err := remote.Image(ref, ropts...)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("signature '%s'", ref))
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
		Layers       []struct {
			MediaType string `json:"mediaType"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) == 0 {
		return nil, nil //nolint:nilerr // not a bundle manifest: skipped
	}
	if m.ArtifactType != BundleArtifactType && m.Layers[0].MediaType != BundleArtifactType {
		return nil, nil
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return nil, fmt.Errorf("signature '%s' has no layer", ref)
	}
	return readLayer(layers[0])
}

func readLayer(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSignatureBlob+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSignatureBlob {
		return nil, fmt.Errorf("signature layer: %w", ErrTooLarge)
	}
	return data, nil
}

// verifyBundleWithKey verifies a bundle signed with key (no certificate, no timestamps needed).
func verifyBundleWithKey(b *bundle.Bundle, key crypto.PublicKey, digest v1.Hash) error {
	sv, err := signature.LoadVerifier(key, crypto.SHA256)
	if err != nil {
		return err
	}
	material := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	v, err := verify.NewVerifier(material, verify.WithNoObserverTimestamps())
	if err != nil {
		return err
	}
	d, err := hex.DecodeString(digest.Hex)
	if err != nil {
		return err
	}
	_, err = v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest(digest.Algorithm, d), verify.WithKey()))
	return err
}

// verifyBundleKeyless verifies a bundle's certificate chain against the trusted root, its
// transparency log entries and timestamps as far as the root has logs and authorities, and the
// signer's identity against c.Identities.
func (c Cosign) verifyBundleKeyless(b *bundle.Bundle, tr root.TrustedMaterial, digest v1.Hash) error {
	var vopts []verify.VerifierOption
	if len(tr.RekorLogs()) > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	} else if len(tr.TimestampingAuthorities()) > 0 {
		vopts = append(vopts, verify.WithSignedTimestamps(1))
	} else {
		// A private Sigstore without log or timestamp authority: the certificate must be
		// valid now.
		vopts = append(vopts, verify.WithCurrentTime())
	}
	if len(tr.CTLogs()) > 0 {
		vopts = append(vopts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(tr, vopts...)
	if err != nil {
		return err
	}
	d, err := hex.DecodeString(digest.Hex)
	if err != nil {
		return err
	}
	identities := c.Identities
	if len(identities) == 0 {
		identities = []Identity{{Issuer: ".*", Subject: ".*"}}
	}
	var failures []error
	for _, id := range identities {
		ci, err := verify.NewShortCertificateIdentity("", id.Issuer, "", id.Subject)
		if err != nil {
			return fmt.Errorf("matchOIDCIdentity: %w", err)
		}
		if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest(digest.Algorithm, d), verify.WithCertificateIdentity(ci))); err != nil {
			failures = append(failures, err)
			continue
		}
		return nil
	}
	return errors.Join(failures...)
}

// simpleSignature is one cosign v2 signature: the signed payload and its signature.
type simpleSignature struct {
	payload, sig []byte
}

// simpleSignatures reads the cosign v2 signatures of res (the sha256-<hex>.sig tag); none
// when the tag does not exist.
func simpleSignatures(res Resolved, ropts []remote.Option) ([]simpleSignature, error) {
	tag := res.Ref.Context().Tag(res.Digest.Algorithm + "-" + res.Digest.Hex + ".sig")
	img, err := remote.Image(tag, ropts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, classify(err, fmt.Sprintf("signatures '%s'", tag))
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []simpleSignature
	for _, d := range m.Layers {
		b64, ok := d.Annotations[signatureAnnotation]
		if !ok || string(d.MediaType) != SimpleSigningMediaType {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		payload, err := readLayer(l)
		if err != nil {
			return nil, err
		}
		out = append(out, simpleSignature{payload: payload, sig: sig})
	}
	return out, nil
}

// verify checks the signature over the payload with key, and that the payload names digest.
func (s simpleSignature) verify(key crypto.PublicKey, digest v1.Hash) error {
	sv, err := signature.LoadVerifier(key, crypto.SHA256)
	if err != nil {
		return err
	}
	if err := sv.VerifySignature(bytes.NewReader(s.sig), bytes.NewReader(s.payload)); err != nil {
		return fmt.Errorf("invalid signature: %w", err)
	}
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(s.payload, &p); err != nil {
		return fmt.Errorf("invalid signature payload: %w", err)
	}
	if p.Critical.Image.Digest != digest.String() {
		return fmt.Errorf("the signature is for '%s', not '%s'", p.Critical.Image.Digest, digest)
	}
	return nil
}
