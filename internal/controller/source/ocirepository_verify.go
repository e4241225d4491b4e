package source

import (
	"context"
	"fmt"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"

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
	spec := obj.Spec.Verify
	fail := func(provider string, err error) error {
		err = fmt.Errorf("failed to verify the signature using provider '%s': %w", provider, err)
		conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
		return reconcile.Failed(compat.VerificationErrorReason, err)
	}
	var secret *corev1.Secret
	if spec.SecretRef != nil {
		s, err := getSecret(ctx, r.Client, obj.Namespace, spec.SecretRef.Name)
		if err != nil {
			return fail(spec.Provider, fmt.Errorf("failed to get verification keys: %w", err))
		}
		secret = s
	}
	var (
		provider string
		err      error
	)
	switch spec.Provider {
	case "cosign":
		provider = "cosign"
		c := oci.Cosign{}
		if secret != nil {
			for k, v := range secret.Data {
				if strings.HasSuffix(k, ".pub") {
					c.Keys = append(c.Keys, v)
				}
			}
			if len(c.Keys) == 0 {
				return fail(provider, fmt.Errorf("no public keys ('*.pub') in secret '%s/%s'", secret.Namespace, secret.Name))
			}
		} else {
			provider = "cosign keyless"
			if spec.TrustedRootSecretRef != nil {
				s, err := getSecret(ctx, r.Client, obj.Namespace, spec.TrustedRootSecretRef.Name)
				if err != nil {
					return fail(provider, fmt.Errorf("failed to get trusted root: %w", err))
				}
				c.TrustedRoot = s.Data["trusted_root.json"]
				if len(c.TrustedRoot) == 0 {
					return fail(provider, fmt.Errorf("secret '%s/%s' has no 'trusted_root.json'", s.Namespace, s.Name))
				}
			}
			for _, m := range spec.MatchOIDCIdentity {
				c.Identities = append(c.Identities, oci.Identity{Issuer: m.Issuer, Subject: m.Subject})
			}
		}
		provider, err = c.Verify(ctx, res, opts)
		if provider == "" {
			provider = "cosign"
			if secret == nil {
				provider = "cosign keyless"
			}
		}
	case "notation":
		provider = "notation"
		err = r.verifyNotation(ctx, obj, secret, res, opts)
	default:
		return fail(spec.Provider, fmt.Errorf("unsupported verification provider '%s'", spec.Provider))
	}
	if err != nil {
		return fail(provider, err)
	}
	conds.True(compat.SourceVerifiedCondition, compat.SucceededReason, fmt.Sprintf("verified signature of revision %s", res.Revision()))
	return nil
}

// verifyNotation checks notation signatures with the trust policy (trustpolicy.json) and
// certificates (*.pem, *.crt, *.cer) of the verification Secret.
func (r *OCIRepositoryReconciler) verifyNotation(ctx context.Context, obj *sourcev1.OCIRepository, secret *corev1.Secret, res oci.Resolved, opts oci.Options) error {
	if secret == nil {
		return fmt.Errorf("verify.secretRef with trustpolicy.json and the certificates is required")
	}
	n := oci.Notation{TrustPolicy: secret.Data["trustpolicy.json"]}
	if len(n.TrustPolicy) == 0 {
		return fmt.Errorf("secret '%s/%s' has no 'trustpolicy.json'", secret.Namespace, secret.Name)
	}
	for k, v := range secret.Data {
		if strings.HasSuffix(k, ".pem") || strings.HasSuffix(k, ".crt") || strings.HasSuffix(k, ".cer") {
			n.Certificates = append(n.Certificates, v)
		}
	}
	opts.Insecure = opts.Insecure || obj.Spec.Insecure
	return n.Verify(ctx, res, opts)
}
