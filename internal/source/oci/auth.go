package oci

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrAuthentication means the registry refused the credentials, or there were none where it
// needs some.
var ErrAuthentication = errors.New("authentication failed")

// Options are how to reach a registry.
type Options struct {
	// Keychain resolves credentials per registry; anonymous when nil.
	Keychain authn.Keychain
	// CACert, ClientCert and ClientKey are PEM: a private CA, and a client certificate.
	CACert, ClientCert, ClientKey []byte
	// Proxy is the proxy URL, credentials included; the environment's proxy when empty.
	Proxy string
	// Insecure allows plain HTTP.
	Insecure bool
	// UserAgent identifies weir to the registry.
	UserAgent string
}

// transports keeps one transport per TLS and proxy setting, so that connections to a registry
// are reused across reconciles instead of a new pool (and its idle connections) per call.
var transports = struct {
	sync.Mutex
	m map[[32]byte]*http.Transport
}{m: map[[32]byte]*http.Transport{}}

// maxTransports bounds the cache; past it the cache starts over.
const maxTransports = 256

// Transport returns the HTTP transport of opts: TLS roots and client certificate, proxy. Equal
// settings share one transport.
func (o Options) Transport() (http.RoundTripper, error) {
	h := sha256.New()
	for _, b := range [][]byte{o.CACert, o.ClientCert, o.ClientKey, []byte(o.Proxy)} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var key [32]byte
	copy(key[:], h.Sum(nil))
	transports.Lock()
	defer transports.Unlock()
	if t, ok := transports.m[key]; ok {
		return t, nil
	}
	t, err := o.newTransport()
	if err != nil {
		return nil, err
	}
	if len(transports.m) >= maxTransports {
		for k, old := range transports.m {
			old.CloseIdleConnections()
			delete(transports.m, k)
		}
	}
	transports.m[key] = t
	return t, nil
}

func (o Options) newTransport() (*http.Transport, error) {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if len(o.CACert) > 0 || len(o.ClientCert) > 0 {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if len(o.CACert) > 0 {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(o.CACert) {
				return nil, fmt.Errorf("'ca.crt' holds no PEM certificate")
			}
			cfg.RootCAs = pool
		}
		if len(o.ClientCert) > 0 || len(o.ClientKey) > 0 {
			if len(o.ClientCert) == 0 || len(o.ClientKey) == 0 {
				return nil, fmt.Errorf("a client certificate needs both 'tls.crt' and 'tls.key'")
			}
			pair, err := tls.X509KeyPair(o.ClientCert, o.ClientKey)
			if err != nil {
				return nil, fmt.Errorf("invalid client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		t.TLSClientConfig = cfg
	}
	if o.Proxy != "" {
		u, err := url.Parse(o.Proxy)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("invalid proxy address")
		}
		t.Proxy = http.ProxyURL(u)
	}
	return t, nil
}

// remoteOptions are the go-containerregistry options of o.
func (o Options) remoteOptions(ctxOpt remote.Option) ([]remote.Option, error) {
	t, err := o.Transport()
	if err != nil {
		return nil, err
	}
	opts := []remote.Option{ctxOpt, remote.WithTransport(t), remote.WithRetryBackoff(remote.Backoff{Steps: 1})}
	if o.Keychain != nil {
		opts = append(opts, remote.WithAuthFromKeychain(o.Keychain))
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	return opts, nil
}

// Credentials are a username and password, or an identity or registry token.
type Credentials struct {
	Username, Password, IdentityToken, RegistryToken string
}

// Keychain holds credentials per registry host; it implements authn.Keychain.
type Keychain map[string]Credentials

// Resolve returns the credentials of the resource's registry, anonymous when there are none.
func (k Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	for _, candidate := range hostAliases(host) {
		if c, ok := k[candidate]; ok {
			return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password,
				IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken}), nil
		}
	}
	return authn.Anonymous, nil
}

// hostAliases are the spellings a registry host has in Docker config files.
func hostAliases(host string) []string {
	out := []string{host}
	if host == "index.docker.io" || host == "docker.io" {
		out = append(out, "https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
	}
	return out
}

// Merge adds other's entries that k lacks.
func (k Keychain) Merge(other Keychain) {
	for h, c := range other {
		if _, ok := k[h]; !ok {
			k[h] = c
		}
	}
}

// ParseDockerConfig reads a Docker config JSON (.dockerconfigjson, or the older .dockercfg
// shape without "auths") into a Keychain. Keys may be hosts or URLs.
func ParseDockerConfig(data []byte) (Keychain, error) {
	type entry struct {
		Username      string `json:"username"`
		Password      string `json:"password"`
		Auth          string `json:"auth"`
		IdentityToken string `json:"identitytoken"`
		RegistryToken string `json:"registrytoken"`
	}
	var cfg struct {
		Auths map[string]entry `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("not a Docker config JSON: %w", err)
	}
	if cfg.Auths == nil {
		var legacy map[string]entry
		if err := json.Unmarshal(data, &legacy); err != nil {
			return nil, fmt.Errorf("not a Docker config JSON")
		}
		cfg.Auths = legacy
	}
	k := Keychain{}
	for key, e := range cfg.Auths {
		c := Credentials{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("the 'auth' of registry '%s' is not base64", registryHost(key))
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("the 'auth' of registry '%s' is not 'user:password'", registryHost(key))
			}
			c.Username, c.Password = user, pass
		}
		k[registryHost(key)] = c
	}
	return k, nil
}

// registryHost turns a Docker config key ("https://host/v1/", "host") into the host.
func registryHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil && u.Host != "" {
			key = u.Host
		}
	}
	key, _, _ = strings.Cut(key, "/")
	if key == "index.docker.io" || key == "registry-1.docker.io" || key == "docker.io" {
		return "index.docker.io"
	}
	return key
}

// Secrets returns the secret strings of k, for redaction.
func (k Keychain) Secrets() []string {
	var out []string
	for _, c := range k {
		out = append(out, c.Password, c.IdentityToken, c.RegistryToken)
	}
	return out
}
