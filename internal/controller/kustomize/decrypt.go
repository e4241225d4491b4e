package kustomize

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/build"
	"github.com/weirgitops/weir/internal/cloudauth"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/reconcile"
)

// Decryption are the controller-level SOPS settings, as kustomize-controller's flags.
type Decryption struct {
	// AgeSecret is --sops-age-secret: a Secret of the controller's namespace whose .agekey
	// entries decrypt for Kustomizations with a decryption provider but no secretRef.
	AgeSecret *types.NamespacedName
	// VaultConfigMap is --sops-vault-configmap: the ConfigMap whose config.yaml lists the
	// Vault (OpenBao) servers a ServiceAccount token may log in to, and their login paths.
	VaultConfigMap *types.NamespacedName
	// DefaultServiceAccount is --default-decryption-service-account: the ServiceAccount whose
	// identity decrypts when spec.decryption.serviceAccountName is empty.
	DefaultServiceAccount string
}

// errDecryptionWorkloadIdentity is Flux's refusal of serviceAccountName without its gate.
var errDecryptionWorkloadIdentity = errors.New("to use spec.decryption.serviceAccountName for decryption authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller")

// decryptor builds the SOPS key services of ks: the keys of spec.decryption.secretRef, or
// those of --sops-age-secret when it names none; and for the key services without static
// credentials, the identity of spec.decryption.serviceAccountName (or
// --default-decryption-service-account) when object-level workload identity is enabled.
func (r *Reconciler) decryptor(ctx context.Context, ks *kustomizev1.Kustomization) (*build.Decryptor, error) {
	d := ks.Spec.Decryption
	if d.Provider != "sops" {
		return nil, reconcile.Stalled(compat.BuildFailedReason, fmt.Errorf("decryption provider '%s' is not supported: use sops", d.Provider))
	}
	keys := &build.Keys{}
	switch {
	case d.SecretRef != nil:
		var s corev1.Secret
		key := client.ObjectKey{Namespace: ks.Namespace, Name: d.SecretRef.Name}
		if err := r.APIReader.Get(ctx, key, &s); err != nil {
			return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("cannot get sops decryption Secret '%s': %w", key, err))
		}
		var err error
		if keys, err = build.ParseKeys(s.Data); err != nil {
			return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("decryption Secret '%s': %w", key, err))
		}
	case r.Decryption.AgeSecret != nil:
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, *r.Decryption.AgeSecret, &s); err != nil {
			return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("cannot get sops age decryption Secret '%s': %w", r.Decryption.AgeSecret, err))
		}
		for name, v := range s.Data {
			if strings.HasSuffix(name, build.AgeKeySuffix) {
				if err := keys.ImportAge(v); err != nil {
					return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("failed to import '%s' data from sops age decryption Secret '%s': %w", name, r.Decryption.AgeSecret, err))
				}
			}
		}
	}
	sa := d.ServiceAccountName
	if sa != "" && !r.Gates.Enabled(features.ObjectLevelWorkloadIdentity) {
		return nil, reconcile.Stalled(compat.BuildFailedReason, errDecryptionWorkloadIdentity)
	}
	if sa == "" && r.Gates.Enabled(features.ObjectLevelWorkloadIdentity) {
		sa = r.Decryption.DefaultServiceAccount
	}
	if sa != "" {
		if err := r.workloadIdentity(ctx, keys, &cloudauth.Issuer{Client: r.Client, Namespace: ks.Namespace, Name: sa}); err != nil {
			return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("decryption identity: %w", err))
		}
	}
	return build.NewKeysDecryptor(keys), nil
}

// workloadIdentity fills the key services that have no static credentials with the
// ServiceAccount's identity. The ServiceAccount must exist; cloud credentials are exchanged
// only when a file needs them, so a Kustomization using age alone costs nothing more.
func (r *Reconciler) workloadIdentity(ctx context.Context, keys *build.Keys, id *cloudauth.Issuer) error {
	if _, err := id.ServiceAccount(ctx); err != nil {
		return err
	}
	if keys.AWS == nil {
		keys.AWS = func(region string) aws.CredentialsProvider {
			return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
				p, err := id.AWS(ctx, region)
				if err != nil {
					return aws.Credentials{}, err
				}
				return p.Retrieve(ctx)
			})
		}
	}
	if keys.Azure == nil {
		cred, err := id.Azure(ctx)
		if err == nil {
			keys.Azure = cred
		}
	}
	if keys.GCP == nil && keys.GCPCredentialsJSON == nil {
		if ts, err := id.GCP(ctx); err == nil {
			keys.GCP = ts
		}
	}
	if keys.VaultToken == "" && r.Decryption.VaultConfigMap != nil {
		keys.VaultLogin = r.vaultLogin(id)
	}
	return nil
}

// vaultLogin returns Flux's Vault Kubernetes (JWT) login: a token of the ServiceAccount,
// audience-bound to the Vault address, written to the address's login path from
// --sops-vault-configmap (which also allowlists the servers), as role "<namespace>_<name>".
func (r *Reconciler) vaultLogin(id *cloudauth.Issuer) func(ctx context.Context, address string) (string, error) {
	var mu sync.Mutex
	tokens := map[string]string{}
	return func(ctx context.Context, address string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := tokens[address]; ok {
			return t, nil
		}
		paths, err := r.vaultLoginPaths(ctx)
		if err != nil {
			return "", err
		}
		loginPath := paths[address]
		if loginPath == "" {
			return "", fmt.Errorf("no Vault login path configured for address '%s' in ConfigMap '%s'", address, r.Decryption.VaultConfigMap)
		}
		jwt, err := id.Token(ctx, address)
		if err != nil {
			return "", fmt.Errorf("failed to issue Kubernetes token for Vault authentication: %w", err)
		}
		ns, name, err := tokenServiceAccount(jwt)
		if err != nil {
			return "", fmt.Errorf("failed to derive Vault role for authentication: %w", err)
		}
		role := ns + "_" + name
		cfg := vaultapi.DefaultConfig()
		cfg.Address = address
		vc, err := vaultapi.NewClient(cfg)
		if err != nil {
			return "", fmt.Errorf("failed to create Vault client for '%s': %w", address, err)
		}
		vc.ClearToken()
		secret, err := vc.Logical().WriteWithContext(ctx, loginPath, map[string]any{"role": role, "jwt": jwt})
		if err != nil {
			return "", fmt.Errorf("failed to authenticate with Vault '%s' at login path '%s' as role '%s': %w", address, loginPath, role, err)
		}
		if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
			return "", fmt.Errorf("vault '%s' returned no token for login at '%s' as role '%s'", address, loginPath, role)
		}
		tokens[address] = secret.Auth.ClientToken
		return secret.Auth.ClientToken, nil
	}
}

// vaultLoginPaths reads --sops-vault-configmap's config.yaml: address → login path.
func (r *Reconciler) vaultLoginPaths(ctx context.Context) (map[string]string, error) {
	var cm corev1.ConfigMap
	if err := r.APIReader.Get(ctx, *r.Decryption.VaultConfigMap, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("vault ConfigMap '%s' not found", r.Decryption.VaultConfigMap)
		}
		return nil, fmt.Errorf("failed to get Vault ConfigMap '%s': %w", r.Decryption.VaultConfigMap, err)
	}
	data, ok := cm.Data["config.yaml"]
	if !ok {
		return nil, fmt.Errorf("vault ConfigMap '%s' is missing the 'config.yaml' key", r.Decryption.VaultConfigMap)
	}
	var c kustomizev1.VaultConfig
	if err := yaml.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("failed to parse 'config.yaml' in Vault ConfigMap '%s': %w", r.Decryption.VaultConfigMap, err)
	}
	paths := make(map[string]string, len(c.Instances))
	for _, in := range c.Instances {
		paths[in.Address] = in.LoginPath
	}
	return paths, nil
}

// tokenServiceAccount reads the ServiceAccount of a token's subject
// (system:serviceaccount:<namespace>:<name>); the token was just issued by the API server.
func tokenServiceAccount(jwt string) (namespace, name string, err error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", "", errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", errors.New("undecodable token payload")
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", "", errors.New("undecodable token claims")
	}
	rest, ok := strings.CutPrefix(claims.Sub, "system:serviceaccount:")
	if ns, n, found := strings.Cut(rest, ":"); ok && found && ns != "" && n != "" {
		return ns, n, nil
	}
	return "", "", fmt.Errorf("unexpected token subject '%s'", claims.Sub)
}
