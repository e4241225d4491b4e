package oci

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// maxNotationSignatures bounds the signatures tried for one artifact.
const maxNotationSignatures = 50

// Notation verifies notation signatures of an artifact with a trust policy and certificates,
// through notation-go.
type Notation struct {
	// TrustPolicy is the trustpolicy.json document.
	TrustPolicy []byte
	// Certificates are PEM certificates (the trust store: every named store of the policy
	// holds them all).
	Certificates [][]byte
}

// certStore is a trust store holding the same certificates under every name.
type certStore []*x509.Certificate

// GetCertificates returns the certificates, whichever store the policy names.
func (s certStore) GetCertificates(context.Context, truststore.Type, string) ([]*x509.Certificate, error) {
	return s, nil
}

// Verify checks that res has a notation signature the trust policy accepts.
func (n Notation) Verify(ctx context.Context, res Resolved, opts Options) error {
	var policy trustpolicy.Document
	if err := json.Unmarshal(n.TrustPolicy, &policy); err != nil {
		return fmt.Errorf("invalid trustpolicy.json: %w", err)
	}
	var store certStore
	for _, data := range n.Certificates {
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return fmt.Errorf("invalid certificate: %w", err)
			}
			store = append(store, c)
		}
	}
	if len(store) == 0 {
		return errors.New("no certificates ('*.pem', '*.crt') found")
	}
	v, err := verifier.New(&policy, store, nil)
	if err != nil {
		return fmt.Errorf("invalid trust policy: %w", err)
	}
	repo, err := n.repository(res, opts)
	if err != nil {
		return err
	}
	_, outcomes, err := notation.Verify(ctx, v, repo, notation.VerifyOptions{
		ArtifactReference: res.Ref.String(), MaxSignatureAttempts: maxNotationSignatures,
	})
	if err != nil {
		var details []error
		for _, o := range outcomes {
			if o != nil && o.Error != nil {
				details = append(details, o.Error)
			}
		}
		if len(details) > 0 {
			return fmt.Errorf("%w were found for '%s': %w", ErrVerification, res.Ref, errors.Join(details...))
		}
		return fmt.Errorf("%w were found for '%s': %w", ErrVerification, res.Ref, err)
	}
	return nil
}

// repository is the oras repository of res, with opts' transport and credentials.
func (n Notation) repository(res Resolved, opts Options) (registry.Repository, error) {
	r, err := remote.NewRepository(res.Ref.Context().RegistryStr() + "/" + res.Ref.Context().RepositoryStr())
	if err != nil {
		return nil, err
	}
	r.PlainHTTP = opts.Insecure
	t, err := opts.Transport()
	if err != nil {
		return nil, err
	}
	client := &auth.Client{Client: &http.Client{Transport: t}, Cache: auth.NewCache()}
	if opts.Keychain != nil {
		a, err := opts.Keychain.Resolve(res.Ref.Context())
		if err != nil {
			return nil, err
		}
		cfg, err := a.Authorization()
		if err != nil {
			return nil, err
		}
		if *cfg != (authn.AuthConfig{}) {
			client.Credential = auth.StaticCredential(res.Ref.Context().RegistryStr(), auth.Credential{
				Username: cfg.Username, Password: cfg.Password, RefreshToken: cfg.IdentityToken, AccessToken: cfg.RegistryToken,
			})
		}
	}
	r.Client = client
	return registry.NewRepository(r), nil
}
