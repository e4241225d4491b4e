package gitauth

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

// githubAppIDKey is the Secret key that holds a GitHub App's ID.
const githubAppIDKey = "githubAppID"

// Resolver reads GitRepositories' credentials and keeps their GitHub App token sources; the
// zero value is ready to use and safe for concurrent use.
type Resolver struct {
	tokens tokenCache
}

// Forget drops what is cached for the GitRepository key ("namespace/name").
func (r *Resolver) Forget(key string) { r.tokens.forget(key) }

// getSecret reads a Secret with a message that names it.
func getSecret(ctx context.Context, c client.Reader, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", namespace, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", namespace, name, err)
	}
	return &s, nil
}

// Auth builds the Git credentials of a GitRepository from its Secrets: spec.secretRef (basic
// auth, bearer token, SSH identity and known_hosts, TLS CA and client certificate, or GitHub
// App keys with provider github) and spec.proxySecretRef. The GitHub API is reached with the
// same CA, client certificate and proxy as the repository.
func (r *Resolver) Auth(ctx context.Context, c client.Reader, obj *sourcev1.GitRepository) (git.Auth, error) {
	var (
		auth    git.Auth
		secret  *corev1.Secret
		version string // of the Secrets a GitHub App token depends on
	)
	if obj.Spec.SecretRef != nil {
		s, err := getSecret(ctx, c, obj.Namespace, obj.Spec.SecretRef.Name)
		if err != nil {
			return auth, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get secret: %w", err))
		}
		secret, version = s, s.ResourceVersion
		auth = git.AuthFromData(s.Data)
	}
	if obj.Spec.ProxySecretRef != nil {
		s, err := getSecret(ctx, c, obj.Namespace, obj.Spec.ProxySecretRef.Name)
		if err != nil {
			return auth, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get proxy secret: %w", err))
		}
		addr := string(s.Data["address"])
		if addr == "" {
			return auth, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("proxy secret '%s/%s' has no 'address'", s.Namespace, s.Name))
		}
		auth.Proxy = &git.Proxy{Address: addr, Username: string(s.Data["username"]), Password: string(s.Data["password"])}
		version += "/" + s.ResourceVersion
	}
	switch {
	case obj.Spec.Provider == sourcev1.GitProviderGitHub && secret == nil:
		return auth, reconcile.Stalled(compat.InvalidProviderConfigurationReason,
			fmt.Errorf("secretRef with github app data must be specified when provider is set to github"))
	case obj.Spec.Provider == sourcev1.GitProviderGitHub:
		return r.githubAppAuth(ctx, obj, secret, auth, version)
	case secret != nil && len(secret.Data[githubAppIDKey]) > 0:
		return auth, reconcile.Failed(compat.InvalidProviderConfigurationReason,
			fmt.Errorf("secretRef '%s/%s' has github app data but provider is not set to github", secret.Namespace, secret.Name))
	}
	return auth, nil
}

// githubAppAuth exchanges the App's keys for an installation token, reusing a cached token
// until a minute before it expires. base holds the Secret's TLS settings and the proxy, which
// the API calls use as the Git operations do; a change of either Secret (version) starts a new
// cache entry.
func (r *Resolver) githubAppAuth(ctx context.Context, obj *sourcev1.GitRepository, s *corev1.Secret, base git.Auth, version string) (git.Auth, error) {
	d := s.Data
	appID, err := strconv.ParseInt(string(d[githubAppIDKey]), 10, 64)
	if err != nil {
		return git.Auth{}, reconcile.Stalled(compat.InvalidProviderConfigurationReason,
			fmt.Errorf("secret '%s/%s': githubAppID is missing or not a number", s.Namespace, s.Name))
	}
	var installID int64
	if v := string(d["githubAppInstallationID"]); v != "" {
		if installID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return git.Auth{}, reconcile.Stalled(compat.InvalidProviderConfigurationReason,
				fmt.Errorf("secret '%s/%s': githubAppInstallationID is not a number", s.Namespace, s.Name))
		}
	}
	app := git.GitHubApp{
		AppID: appID, InstallationID: installID, InstallationOwner: string(d["githubAppInstallationOwner"]),
		PrivateKey: d["githubAppPrivateKey"], BaseURL: string(d["githubAppBaseURL"]),
	}
	src, err := r.tokens.get(obj.Namespace+"/"+obj.Name, version, func() (*git.GitHubAppTokenSource, error) {
		tr, err := git.HTTPTransport(base)
		if err != nil {
			return nil, err
		}
		return git.NewGitHubAppTokenSource(app, git.WithTransport(tr))
	})
	if err != nil {
		return git.Auth{}, reconcile.Stalled(compat.InvalidProviderConfigurationReason, fmt.Errorf("secret '%s/%s': %w", s.Namespace, s.Name, err))
	}
	creds, err := src.Auth(ctx)
	if err != nil {
		return git.Auth{}, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("get GitHub App installation token: %w", err))
	}
	base.Username, base.Password, base.BearerToken = creds.Username, creds.Password, ""
	return base, nil
}

// tokenCache keeps one GitHub App token source per GitRepository and version of its Secrets.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]tokenEntry
}

type tokenEntry struct {
	version string
	src     *git.GitHubAppTokenSource
}

func (c *tokenCache) get(key, version string, create func() (*git.GitHubAppTokenSource, error)) (*git.GitHubAppTokenSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.version == version {
		return e.src, nil
	}
	src, err := create()
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
