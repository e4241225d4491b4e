package source

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/oci"
)

// verifyIfNeeded checks the artifact's signature when spec.verify asks for it and the revision
// changed (changed), or SourceVerified is not yet True for this generation.
func (r *OCIRepositoryReconciler) verifyIfNeeded(ctx context.Context, obj *sourcev1.OCIRepository, res oci.Resolved, opts oci.Options, changed bool) error {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if obj.Spec.Verify == nil {
		conds.Delete(compat.SourceVerifiedCondition)
		return nil
	}
	if c := conds.Get(compat.SourceVerifiedCondition); !changed && c != nil && c.Status == "True" && c.ObservedGeneration == obj.Generation {
		return nil
	}
	return r.verify(ctx, obj, res, opts)
}

// verify checks the artifact's signature with the provider spec.verify names and records
// SourceVerified. A signature that does not verify fails the reconcile: no artifact is stored
// for the new digest, the last verified one is kept.
func (r *OCIRepositoryReconciler) verify(ctx context.Context, obj *sourcev1.OCIRepository, res oci.Resolved, opts oci.Options) error {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	v := obj.Spec.Verify
	opts.Insecure = opts.Insecure || obj.Spec.Insecure
	provider, err := verifyOCI(ctx, r.Client, obj.Namespace, v.Provider, v.SecretRef, v.TrustedRootSecretRef, v.MatchOIDCIdentity, res, opts)
	if err != nil {
		err = fmt.Errorf("failed to verify the signature using provider '%s': %w", provider, err)
		conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
		return reconcile.Failed(compat.VerificationErrorReason, err)
	}
	conds.True(compat.SourceVerifiedCondition, compat.SucceededReason, fmt.Sprintf("verified signature of revision %s", res.Revision()))
	return nil
}

// verifyOCI checks the signature of an OCI artifact with a provider: cosign with the keys
// (*.pub) of secretRef, cosign keyless with the trusted root of trustedRootRef and the
// identities, or notation with the trust policy and certificates of secretRef. It returns the
// provider's name as Flux words it in messages.
func verifyOCI(ctx context.Context, c client.Reader, namespace, provider string, secretRef, trustedRootRef *meta.LocalObjectReference,
	match []sourcev1.OIDCIdentityMatch, res oci.Resolved, opts oci.Options) (string, error) {
	var secret *corev1.Secret
	if secretRef != nil {
		s, err := getSecret(ctx, c, namespace, secretRef.Name)
		if err != nil {
			return provider, fmt.Errorf("failed to get verification keys: %w", err)
		}
		secret = s
	}
	switch provider {
	case "cosign":
		cs := oci.Cosign{}
		name := "cosign"
		if secret != nil {
			for k, v := range secret.Data {
				if strings.HasSuffix(k, ".pub") {
					cs.Keys = append(cs.Keys, v)
				}
			}
			if len(cs.Keys) == 0 {
				return name, fmt.Errorf("no public keys ('*.pub') in secret '%s/%s'", secret.Namespace, secret.Name)
			}
		} else {
			name = "cosign keyless"
			if trustedRootRef != nil {
				s, err := getSecret(ctx, c, namespace, trustedRootRef.Name)
				if err != nil {
					return name, fmt.Errorf("failed to get trusted root: %w", err)
				}
				cs.TrustedRoot = s.Data["trusted_root.json"]
				if len(cs.TrustedRoot) == 0 {
					return name, fmt.Errorf("secret '%s/%s' has no 'trusted_root.json'", s.Namespace, s.Name)
				}
			}
			for _, m := range match {
				cs.Identities = append(cs.Identities, oci.Identity{Issuer: m.Issuer, Subject: m.Subject})
			}
		}
		_, err := cs.Verify(ctx, res, opts)
		return name, err
	case "notation":
		if secret == nil {
			return provider, fmt.Errorf("verify.secretRef with trustpolicy.json and the certificates is required")
		}
		n := oci.Notation{TrustPolicy: secret.Data["trustpolicy.json"]}
		if len(n.TrustPolicy) == 0 {
			return provider, fmt.Errorf("secret '%s/%s' has no 'trustpolicy.json'", secret.Namespace, secret.Name)
		}
		for k, v := range secret.Data {
			if strings.HasSuffix(k, ".pem") || strings.HasSuffix(k, ".crt") || strings.HasSuffix(k, ".cer") {
				n.Certificates = append(n.Certificates, v)
			}
		}
		return provider, n.Verify(ctx, res, opts)
	}
	return provider, fmt.Errorf("unsupported verification provider '%s'", provider)
}
