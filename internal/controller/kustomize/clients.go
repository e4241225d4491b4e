package kustomize

import (
	"context"
	"fmt"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
)

// clients hands out uncached clients for applying: weir's own, one impersonating a service
// account (spec.serviceAccountName or --default-service-account), or one for a remote cluster
// (spec.kubeConfig). They are cached, keyed by identity and Secret version.
type clients struct {
	base  *rest.Config
	new   func(*rest.Config) (client.Client, error)
	mu    sync.Mutex
	cache map[string]client.Client
}

func (c *clients) get(key string, cfg func() (*rest.Config, error)) (client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.cache[key]; ok {
		return cl, nil
	}
	rc, err := cfg()
	if err != nil {
		return nil, err
	}
	cl, err := c.new(rc)
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

// clientFor returns the client a Kustomization applies with.
// A spec.kubeConfig without a secretRef (configMapRef: cloud workload identity, which weir
// does not support yet) is refused: falling back to the local client would apply, and prune,
// manifests meant for a remote cluster in the management cluster.
func (r *Reconciler) clientFor(ctx context.Context, ks *kustomizev1.Kustomization) (client.Client, error) {
	if kc := ks.Spec.KubeConfig; kc != nil && kc.SecretRef == nil {
		what := "spec.kubeConfig without secretRef"
		if kc.ConfigMapRef != nil {
			what = fmt.Sprintf("spec.kubeConfig.configMapRef '%s'", kc.ConfigMapRef.Name)
		}
		return nil, reconcile.Stalled(compat.ReconciliationFailedReason,
			fmt.Errorf("%s (workload identity) is not supported: nothing is applied, to the remote cluster or to this one; use spec.kubeConfig.secretRef", what))
	}
	if kc := ks.Spec.KubeConfig; kc != nil && kc.SecretRef != nil {
		var s corev1.Secret
		key := client.ObjectKey{Namespace: ks.Namespace, Name: kc.SecretRef.Name}
		if err := r.APIReader.Get(ctx, key, &s); err != nil {
			return nil, reconcile.Failed(compat.ReconciliationFailedReason, fmt.Errorf("get kubeconfig Secret '%s': %w", key, err))
		}
		data := s.Data[kc.SecretRef.Key]
		if kc.SecretRef.Key == "" {
			data = s.Data["value"]
			if len(data) == 0 {
				data = s.Data["value.yaml"]
			}
		}
		if len(data) == 0 {
			return nil, reconcile.Stalled(compat.ReconciliationFailedReason,
				fmt.Errorf("kubeconfig Secret '%s' has no 'value' or 'value.yaml' key", key))
		}
		cl, err := r.clients.get("kubeconfig/"+string(s.UID)+"/"+s.ResourceVersion, func() (*rest.Config, error) {
			cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
			if err != nil {
				return nil, fmt.Errorf("parse kubeconfig from Secret '%s': %w", key, err)
			}
			return cfg, nil
		})
		if err != nil {
			return nil, reconcile.Stalled(compat.ReconciliationFailedReason, err)
		}
		return cl, nil
	}
	sa := ks.Spec.ServiceAccountName
	if sa == "" {
		sa = r.DefaultServiceAccount
	}
	if sa == "" {
		return r.clients.get("", func() (*rest.Config, error) { return rest.CopyConfig(r.clients.base), nil })
	}
	user := fmt.Sprintf("system:serviceaccount:%s:%s", ks.Namespace, sa)
	return r.clients.get("sa/"+user, func() (*rest.Config, error) {
		cfg := rest.CopyConfig(r.clients.base)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		return cfg, nil
	})
}
