package source

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

// auth builds the Git credentials of a GitRepository from its Secrets: spec.secretRef (basic
// auth, bearer token, SSH identity and known_hosts, TLS CA and client certificate, or GitHub
// App keys with provider github) and spec.proxySecretRef.
func (r *GitRepositoryReconciler) auth(ctx context.Context, obj *sourcev1.GitRepository) (git.Auth, error) {
	var auth git.Auth
	if obj.Spec.SecretRef != nil {
		s, err := r.secret(ctx, obj.Namespace, obj.Spec.SecretRef.Name)
		if err != nil {
			return auth, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get secret: %w", err))
		}
		if obj.Spec.Provider == sourcev1.GitProviderGitHub {
			a, err := r.githubAppAuth(ctx, obj, s)
			if err != nil {
				return auth, err
			}
			auth = a
		} else {
			auth = authFromSecret(s)
		}
	} else if obj.Spec.Provider == sourcev1.GitProviderGitHub {
		return auth, reconcile.Stalled(compat.AuthenticationFailedReason,
			fmt.Errorf("provider 'github' needs spec.secretRef with the GitHub App keys"))
	}
	if obj.Spec.ProxySecretRef != nil {
		s, err := r.secret(ctx, obj.Namespace, obj.Spec.ProxySecretRef.Name)
		if err != nil {
			return auth, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get proxy secret: %w", err))
		}
		addr := string(s.Data["address"])
		if addr == "" {
			return auth, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("proxy secret '%s/%s' has no 'address'", s.Namespace, s.Name))
		}
		auth.Proxy = &git.Proxy{Address: addr, Username: string(s.Data["username"]), Password: string(s.Data["password"])}
	}
	return auth, nil
}

// authFromSecret reads Flux's Git Secret keys; the legacy caFile/certFile/keyFile names are
// accepted too.
func authFromSecret(s *corev1.Secret) git.Auth {
	d := s.Data
	first := func(keys ...string) []byte {
		for _, k := range keys {
			if v, ok := d[k]; ok && len(v) > 0 {
				return v
			}
		}
		return nil
	}
	return git.Auth{
		Username:      string(d["username"]),
		Password:      string(d["password"]),
		BearerToken:   string(d["bearerToken"]),
		SSHPrivateKey: d["identity"],
		KnownHosts:    d["known_hosts"],
		CACert:        first("ca.crt", "caFile"),
		ClientCert:    first("tls.crt", "certFile"),
		ClientKey:     first("tls.key", "keyFile"),
	}
}

// githubAppAuth exchanges the App's keys for an installation token, reusing a cached token
// until shortly before it expires. A change of the Secret starts a new cache entry.
func (r *GitRepositoryReconciler) githubAppAuth(ctx context.Context, obj *sourcev1.GitRepository, s *corev1.Secret) (git.Auth, error) {
	d := s.Data
	appID, err := strconv.ParseInt(string(d["githubAppID"]), 10, 64)
	if err != nil {
		return git.Auth{}, reconcile.Stalled(compat.AuthenticationFailedReason,
			fmt.Errorf("secret '%s/%s': githubAppID is missing or not a number", s.Namespace, s.Name))
	}
	var installID int64
	if v := string(d["githubAppInstallationID"]); v != "" {
		if installID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return git.Auth{}, reconcile.Stalled(compat.AuthenticationFailedReason,
				fmt.Errorf("secret '%s/%s': githubAppInstallationID is not a number", s.Namespace, s.Name))
		}
	}
	app := git.GitHubApp{
		AppID: appID, InstallationID: installID, InstallationOwner: string(d["githubAppInstallationOwner"]),
		PrivateKey: d["githubAppPrivateKey"], BaseURL: string(d["githubAppBaseURL"]),
	}
	key := obj.Namespace + "/" + obj.Name
	src, err := r.tokens.get(key, s.ResourceVersion, app)
	if err != nil {
		return git.Auth{}, reconcile.Stalled(compat.AuthenticationFailedReason, fmt.Errorf("secret '%s/%s': %w", s.Namespace, s.Name, err))
	}
	auth, err := src.Auth(ctx)
	if err != nil {
		return git.Auth{}, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("get GitHub App installation token: %w", err))
	}
	base := authFromSecret(s)
	auth.CACert, auth.ClientCert, auth.ClientKey = base.CACert, base.ClientCert, base.ClientKey
	return auth, nil
}

// tokenCache keeps one GitHub App token source per GitRepository and Secret version.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]tokenEntry
}

type tokenEntry struct {
	version string
	src     *git.GitHubAppTokenSource
}

func (c *tokenCache) get(key, version string, app git.GitHubApp) (*git.GitHubAppTokenSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.version == version {
		return e.src, nil
	}
	src, err := git.NewGitHubAppTokenSource(app)
	if err != nil {
		return nil, err
	}
	if c.entries == nil {
		c.entries = map[string]tokenEntry{}
	}
	c.entries[key] = tokenEntry{version: version, src: src}
	return src, nil
}

func (c *tokenCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
