package notification

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/notify"
	"github.com/weirgitops/weir/internal/secretdata"
)

// maxAddress is Flux's bound on a Secret's address.
const maxAddress = 2048

// providerConfig is a Provider resolved, with its commitStatusExpr compiled.
type providerConfig struct {
	notify.Config
	expr    cel.Program
	expires time.Time
}

// configCache keeps resolved Providers for a while, by UID and resource version, so that
// every event does not read the Provider's Secrets again.
type configCache struct {
	mu sync.Mutex
	m  map[string]*providerConfig
}

// maxConfigs bounds the cache; past it, it starts over.
const maxConfigs = 1024

// config resolves p: its spec, its Secrets (secretRef, certSecretRef, proxySecretRef) and its
// commitStatusExpr.
func (d *Dispatcher) config(ctx context.Context, p *notificationv1beta3.Provider) (*providerConfig, error) {
	key := string(p.UID) + "@" + p.ResourceVersion
	now := time.Now()
	d.configs.mu.Lock()
	if c, ok := d.configs.m[key]; ok && now.Before(c.expires) {
		d.configs.mu.Unlock()
		cp := *c
		return &cp, nil
	}
	d.configs.mu.Unlock()
	c, err := resolve(ctx, d.Client, p)
	if err != nil {
		return nil, err
	}
	c.expires = now.Add(d.ConfigTTL)
	d.configs.mu.Lock()
	if d.configs.m == nil || len(d.configs.m) >= maxConfigs {
		d.configs.m = map[string]*providerConfig{}
	}
	d.configs.m[key] = c
	d.configs.mu.Unlock()
	cp := *c
	return &cp, nil
}

func secret(ctx context.Context, c client.Reader, namespace, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("failed to get secret '%s/%s': %w", namespace, name, err)
	}
	return s.Data, nil
}

// resolve reads what p refers to into a notify.Config.
func resolve(ctx context.Context, c client.Reader, p *notificationv1beta3.Provider) (*providerConfig, error) {
	cfg := notify.Config{
		Type: p.Spec.Type, Address: p.Spec.Address, Channel: p.Spec.Channel, Username: p.Spec.Username,
		Proxy: p.Spec.Proxy, Timeout: p.GetTimeout(), ProviderUID: string(p.UID),
	}
	var data map[string][]byte
	if p.Spec.SecretRef != nil {
		var err error
		if data, err = secret(ctx, c, p.Namespace, p.Spec.SecretRef.Name); err != nil {
			return nil, err
		}
		cfg.SecretData = data
		if v, ok := data["address"]; ok {
			if len(v) > maxAddress {
				return nil, fmt.Errorf("invalid address in secret: address exceeds maximum length of %d bytes", maxAddress)
			}
			cfg.Address = strings.TrimSpace(string(v))
		}
		cfg.Token = strings.TrimSpace(string(data["token"]))
		cfg.BasicUsername, cfg.BasicPassword = string(data["username"]), string(data["password"])
		if v, ok := data["proxy"]; ok {
			cfg.Proxy = strings.TrimSpace(string(v))
		}
		if h, ok := data["headers"]; ok {
			headers := map[string]string{}
			if err := yaml.Unmarshal(h, &headers); err != nil {
				return nil, fmt.Errorf("failed to read headers from secret: %w", err)
			}
			cfg.Headers = headers
		}
	}
	if p.Spec.ProxySecretRef != nil {
		pd, err := secret(ctx, c, p.Namespace, p.Spec.ProxySecretRef.Name)
		if err != nil {
			return nil, err
		}
		if cfg.Proxy, err = secretdata.ProxyURL(pd); err != nil {
			return nil, fmt.Errorf("failed to get proxy URL from secret '%s': %w", p.Spec.ProxySecretRef.Name, err)
		}
	}
	var tlsData map[string][]byte
	switch {
	case p.Spec.CertSecretRef != nil:
		var err error
		if tlsData, err = secret(ctx, c, p.Namespace, p.Spec.CertSecretRef.Name); err != nil {
			return nil, err
		}
	case commitStatusTypes[p.Spec.Type] && data != nil && secretdata.HasTLS(data):
		tlsData = data
	}
	if tlsData != nil {
		tc, err := secretdata.TLSConfig(tlsData)
		if err != nil {
			return nil, fmt.Errorf("failed to get TLS config: %w", err)
		}
		cfg.TLS = tc
	}
	out := &providerConfig{Config: cfg}
	if p.Spec.CommitStatusExpr != "" {
		prg, err := compileCommitStatus(p.Spec.CommitStatusExpr)
		if err != nil {
			return nil, err
		}
		out.expr = prg
	}
	return out, nil
}

// compileCommitStatus compiles a commitStatusExpr: a CEL expression over event, alert and
// provider that yields a string.
func compileCommitStatus(src string) (cel.Program, error) {
	env, err := cel.NewEnv(ext.Strings(), cel.Variable("event", cel.DynType), cel.Variable("alert", cel.DynType), cel.Variable("provider", cel.DynType))
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("failed to compile the spec.commitStatusExpr CEL expression: %w", iss.Err())
	}
	return env.Program(ast, cel.CostLimit(1_000_000))
}

// commitStatus is the commit status key of e for provider p: commitStatusExpr's result, or
// Flux's default "<kind>/<name>/<first part of the provider UID>", lower-cased.
func commitStatus(p *notificationv1beta3.Provider, a *notificationv1beta3.Alert, e *event.Event, prg cel.Program) (string, error) {
	if prg == nil {
		uid, _, _ := strings.Cut(string(p.UID), "-")
		return strings.ToLower(e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name + "/" + uid), nil
	}
	vars := map[string]any{}
	for name, obj := range map[string]any{"event": e, "alert": a, "provider": p} {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return "", fmt.Errorf("convert %s: %w", name, err)
		}
		vars[name] = m
	}
	out, _, err := prg.Eval(vars)
	if err != nil {
		return "", fmt.Errorf("failed to evaluate the spec.commitStatusExpr CEL expression for the event: %w", err)
	}
	s, ok := out.Value().(string)
	if !ok {
		return "", fmt.Errorf("the spec.commitStatusExpr CEL expression returned %s, not a string", out.Type().TypeName())
	}
	return s, nil
}
