package target

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
)

// Factory hands out uncached clients for applying: weir's own, one impersonating a service
// account (spec.serviceAccountName or DefaultServiceAccount), or one for a remote cluster
// (spec.kubeConfig). They are cached, keyed by identity and Secret or ConfigMap version.
type Factory struct {
	// Base is weir's own configuration; New makes a client of a configuration.
	Base *rest.Config
	New  func(*rest.Config) (client.Client, error)
	// Reader reads kubeconfig Secrets and ConfigMaps from the API server; Writer requests
	// ServiceAccount tokens.
	Reader client.Reader
	Writer client.Client
	// DefaultServiceAccount is impersonated when an object names none
	// (--default-service-account); DefaultKubeConfigServiceAccount is the token's
	// ServiceAccount when a kubeConfig.configMapRef names none.
	DefaultServiceAccount           string
	DefaultKubeConfigServiceAccount string
	// KubeConfigs is what kubeconfig Secrets may hold beyond inline credentials.
	KubeConfigs KubeConfigPolicy

	mu    sync.Mutex
	cache map[string]client.Client
}

// Spec is what an object says about where and as whom it applies: its namespace,
// spec.serviceAccountName and spec.kubeConfig (Kustomization and HelmRelease alike).
type Spec struct {
	Namespace          string
	ServiceAccountName string
	KubeConfig         *meta.KubeConfigReference
}

func (c *Factory) get(key string, cfg func() (*rest.Config, error)) (client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.cache[key]; ok {
		return cl, nil
	}
	rc, err := cfg()
	if err != nil {
		return nil, err
	}
	cl, err := c.New(rc)
	if err != nil {
		return nil, err
	}
	if c.cache == nil {
		c.cache = map[string]client.Client{}
	}
	if len(c.cache) > 256 {
		clear(c.cache)
	}
	c.cache[key] = cl
	return cl, nil
}

// For returns the client an object applies with.
//
// spec.kubeConfig.configMapRef is workload identity: with provider generic, a token of a
// ServiceAccount in the object's namespace, issued for the remote cluster's audiences,
// authenticates to a remote cluster that trusts this cluster's issuer. The cloud providers
// (aws, azure, gcp) are refused, and so is a kubeConfig that names neither a Secret nor a
// ConfigMap: falling back to the local client would apply, and prune, manifests meant for a
// remote cluster in the management cluster.
func (c *Factory) For(ctx context.Context, s Spec) (client.Client, error) {
	if kc := s.KubeConfig; kc != nil && kc.SecretRef == nil {
		if kc.ConfigMapRef == nil {
			return nil, reconcile.Stalled(compat.ReconciliationFailedReason,
				fmt.Errorf("spec.kubeConfig names neither a secretRef nor a configMapRef: nothing is applied"))
		}
		return c.workloadIdentityClient(ctx, s.Namespace, kc.ConfigMapRef.Name)
	}
	if kc := s.KubeConfig; kc != nil && kc.SecretRef != nil {
		data, secret, err := c.kubeConfigSecret(ctx, s)
		if err != nil {
			return nil, err
		}
		cl, err := c.get("kubeconfig/"+string(secret.UID)+"/"+secret.ResourceVersion, func() (*rest.Config, error) {
			return c.KubeConfigs.parse(data, secret)
		})
		if err != nil {
			return nil, reconcile.Stalled(compat.ReconciliationFailedReason, err)
		}
		return cl, nil
	}
	user := c.impersonated(s)
	if user == "" {
		return c.get("", func() (*rest.Config, error) { return rest.CopyConfig(c.Base), nil })
	}
	return c.get("sa/"+user, func() (*rest.Config, error) {
		cfg := rest.CopyConfig(c.Base)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		return cfg, nil
	})
}

// impersonated is the user s acts as: its service account (spec.serviceAccountName, else the
// default one) in its namespace, "" for weir's own identity.
func (c *Factory) impersonated(s Spec) string {
	sa := s.ServiceAccountName
	if sa == "" {
		sa = c.DefaultServiceAccount
	}
	if sa == "" {
		return ""
	}
	return fmt.Sprintf("system:serviceaccount:%s:%s", s.Namespace, sa)
}

// kubeConfigSecret reads the kubeconfig that spec.kubeConfig.secretRef names: its key, else
// "value", else "value.yaml".
func (c *Factory) kubeConfigSecret(ctx context.Context, s Spec) ([]byte, *corev1.Secret, error) {
	kc := s.KubeConfig
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: s.Namespace, Name: kc.SecretRef.Name}
	if err := c.Reader.Get(ctx, key, &secret); err != nil {
		return nil, nil, reconcile.Failed(compat.ReconciliationFailedReason, fmt.Errorf("get kubeconfig Secret '%s': %w", key, err))
	}
	data := secret.Data[kc.SecretRef.Key]
	if kc.SecretRef.Key == "" {
		data = secret.Data["value"]
		if len(data) == 0 {
			data = secret.Data["value.yaml"]
		}
	}
	if len(data) == 0 {
		return nil, nil, reconcile.Stalled(compat.ReconciliationFailedReason,
			fmt.Errorf("kubeconfig Secret '%s' has no 'value' or 'value.yaml' key", key))
	}
	return data, &secret, nil
}

// tokenLifetime is how long a workload identity token lives; clients built with one are reused
// for half of it.
const tokenLifetime = time.Hour

// workloadIdentityClient builds a client for the remote cluster that the ConfigMap name
// describes (keys provider, address, ca.crt, audiences, serviceAccountName), authenticated with
// a token of the ServiceAccount.
func (c *Factory) workloadIdentityClient(ctx context.Context, namespace, name string) (client.Client, error) {
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: namespace, Name: name}
	if err := c.Reader.Get(ctx, key, &cm); err != nil {
		return nil, reconcile.Failed(compat.ReconciliationFailedReason, fmt.Errorf("get kubeConfig.configMapRef '%s': %w", key, err))
	}
	stalled := func(format string, args ...any) error {
		return reconcile.Stalled(compat.ReconciliationFailedReason,
			fmt.Errorf("spec.kubeConfig.configMapRef '%s': %s", name, fmt.Sprintf(format, args...)))
	}
	provider := cm.Data["provider"]
	switch provider {
	case "generic":
	case "aws", "azure", "gcp":
		return nil, stalled("provider '%s' needs cloud workload identity, which weir does not support; nothing is applied, to the remote cluster or to this one", provider)
	default:
		return nil, stalled("unknown provider '%s': use generic", provider)
	}
	address := cm.Data["address"]
	if u, err := url.Parse(address); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, stalled("address '%s' is not an https URL", address)
	}
	sa := cm.Data["serviceAccountName"]
	if sa == "" {
		sa = c.DefaultKubeConfigServiceAccount
	}
	if sa == "" {
		return nil, stalled("no serviceAccountName, and no --default-kubeconfig-service-account")
	}
	audiences := splitList(cm.Data["audiences"])
	if len(audiences) == 0 {
		audiences = []string{address}
	}
	// A new token, and client, every half lifetime; the ConfigMap's version is in the key.
	epoch := time.Now().Unix() / int64(tokenLifetime.Seconds()/2)
	cacheKey := fmt.Sprintf("wi/%s/%s/%s/%d", cm.UID, cm.ResourceVersion, sa, epoch)
	cl, err := c.get(cacheKey, func() (*rest.Config, error) {
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			Audiences: audiences, ExpirationSeconds: ptrTo(int64(tokenLifetime.Seconds())),
		}}
		acct := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: sa}}
		if err := c.Writer.SubResource("token").Create(ctx, acct, tr); err != nil {
			return nil, fmt.Errorf("create a token for ServiceAccount '%s/%s': %w", namespace, sa, err)
		}
		return &rest.Config{Host: address, BearerToken: tr.Status.Token,
			TLSClientConfig: rest.TLSClientConfig{CAData: []byte(cm.Data["ca.crt"])}}, nil
	})
	if err != nil {
		return nil, reconcile.Failed(compat.ReconciliationFailedReason, err)
	}
	return cl, nil
}

// splitList splits a list written one per line or separated by commas.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// RESTConfig is For's configuration rather than a client, for SDKs that build their own
// clients (Helm): a spec.kubeConfig Secret's kubeconfig, or weir's own configuration
// impersonating the service account (spec.serviceAccountName, else the default one).
func (c *Factory) RESTConfig(ctx context.Context, s Spec) (*rest.Config, error) {
	if kc := s.KubeConfig; kc != nil {
		if kc.SecretRef == nil {
			return nil, reconcile.Stalled(compat.ReconciliationFailedReason,
				fmt.Errorf("spec.kubeConfig needs a secretRef here: workload identity kubeconfigs are not supported for this kind yet"))
		}
		data, secret, err := c.kubeConfigSecret(ctx, s)
		if err != nil {
			return nil, err
		}
		cfg, err := c.KubeConfigs.parse(data, secret)
		if err != nil {
			return nil, reconcile.Stalled(compat.ReconciliationFailedReason, err)
		}
		return cfg, nil
	}
	cfg := rest.CopyConfig(c.Base)
	if user := c.impersonated(s); user != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	}
	return cfg, nil
}
