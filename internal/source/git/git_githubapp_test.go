package git

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv/githubapp"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/proxy"
)

// gheHost is a GitHub Enterprise Server stand-in: a Git server over HTTPS with a private CA
// that accepts only the first token of installation 42, and an API beside it with the same
// certificate, both reached through a proxy with credentials.
type gheHost struct {
	git   *gitserver.HTTPServer
	api   *githubapp.Server
	proxy *proxy.Server
	repo  string
	head  string
}

func newGHEHost(t *testing.T, ttl time.Duration) *gheHost {
	t.Helper()
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("org/private.git")
	head := repo.Commit("main", "init", map[string]string{"f": "x"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{TLS: true, Username: GitHubAppUsername, Password: githubapp.Token(42, 1)})
	api := githubapp.Start(t, githubapp.Options{
		AppID: 7, TLS: &srv.TLSCertificate, TokenTTL: ttl,
		Organizations: map[string]int64{"WeirOrg": 42}, Users: map[string]int64{"someone": 11},
	})
	p := proxy.Start(t, proxy.Options{Username: "proxy-user", Password: "proxy-pass"})
	return &gheHost{git: srv, api: api, proxy: p, repo: srv.RepoURL(repo.Name), head: head}
}

// auth is the repository's CA and proxy, as a GitRepository's Secrets give them.
func (h *gheHost) auth() Auth {
	return Auth{CACert: h.git.CAPEM, Proxy: &Proxy{Address: h.proxy.URL, Username: "proxy-user", Password: "proxy-pass"}}
}

func (h *gheHost) source(t *testing.T, app GitHubApp, a Auth) *GitHubAppTokenSource {
	t.Helper()
	tr, err := HTTPTransport(a)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewGitHubAppTokenSource(app, WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestGitHubAppTokenSource gets installation tokens through ghinstallation and go-github from
// a GitHub Enterprise stand-in with a private CA behind a proxy, by installation ID and by
// owner (organisation or user), caches them, and refuses bad Apps.
func TestGitHubAppTokenSource(t *testing.T) {
	h := newGHEHost(t, time.Hour)
	tests := []struct {
		name         string
		app          GitHubApp
		installation int64
	}{
		{"installation id", GitHubApp{AppID: 7, InstallationID: 42, PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL() + "/"}, 42},
		{"organisation owner", GitHubApp{AppID: 7, InstallationOwner: "weirorg", PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, 42},
		{"user owner", GitHubApp{AppID: 7, InstallationOwner: "someone", PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.api.Minted(tt.installation)
			src := h.source(t, tt.app, h.auth())
			tok1, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			tok2, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok1 != tok2 || h.api.Minted(tt.installation) != before+1 {
				t.Fatalf("token not cached: %q then %q, %d minted", tok1.Token, tok2.Token, h.api.Minted(tt.installation)-before)
			}
			if !strings.HasPrefix(tok1.Token, fmt.Sprintf("ghs_%d_", tt.installation)) {
				t.Fatalf("token %q is not installation %d's", tok1.Token, tt.installation)
			}
			if time.Until(tok1.ExpiresAt) < 50*time.Minute {
				t.Fatalf("expiry %v", tok1.ExpiresAt)
			}
		})
	}
	if !h.proxy.Served(hostOf(t, h.api.URL)) {
		t.Errorf("the API was not reached through the proxy: %v", h.proxy.Targets())
	}

	refusals := []struct {
		name string
		app  GitHubApp
		auth Auth
	}{
		{"wrong key", GitHubApp{AppID: 7, InstallationID: 42, PrivateKey: otherKey(t), BaseURL: h.api.APIURL()}, h.auth()},
		{"wrong app id", GitHubApp{AppID: 8, InstallationID: 42, PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, h.auth()},
		{"unknown owner", GitHubApp{AppID: 7, InstallationOwner: "nobody", PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, h.auth()},
		{"unknown installation", GitHubApp{AppID: 7, InstallationID: 99, PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, h.auth()},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.source(t, tt.app, tt.auth).Token(t.Context()); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("error = %v, want ErrAuthentication", err)
			}
		})
	}
	t.Run("private CA not trusted", func(t *testing.T) {
		a := h.auth()
		a.CACert = nil
		app := GitHubApp{AppID: 7, InstallationID: 42, PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}
		_, err := h.source(t, app, a).Token(t.Context())
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("error = %v, want a certificate error", err)
		}
	})
	t.Run("proxy credentials missing", func(t *testing.T) {
		a := h.auth()
		a.Proxy.Password = ""
		app := GitHubApp{AppID: 7, InstallationID: 42, PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}
		if _, err := h.source(t, app, a).Token(t.Context()); err == nil {
			t.Fatal("the proxy let an unauthenticated client through")
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		for _, app := range []GitHubApp{
			{InstallationID: 1, PrivateKey: h.api.PrivateKeyPEM},
			{AppID: 1, PrivateKey: h.api.PrivateKeyPEM},
			{AppID: 1, InstallationID: 1, InstallationOwner: "x", PrivateKey: h.api.PrivateKeyPEM},
			{AppID: 1, InstallationID: 1, PrivateKey: []byte("not pem")},
		} {
			if _, err := NewGitHubAppTokenSource(app); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("NewGitHubAppTokenSource(app %d) error = %v, want ErrAuthentication", app.AppID, err)
			}
		}
	})
}

// TestGitHubAppTokenRefresh mints a new token when the cached one has less than a minute left.
func TestGitHubAppTokenRefresh(t *testing.T) {
	h := newGHEHost(t, 30*time.Second)
	src := h.source(t, GitHubApp{AppID: 7, InstallationID: 42, PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, h.auth())
	tok1, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok1.Token == tok2.Token || h.api.Minted(42) != 2 {
		t.Fatalf("a token about to expire was reused: %q then %q", tok1.Token, tok2.Token)
	}
}

// TestGitHubAppClone uses an installation token as Git credentials against a GitHub
// Enterprise stand-in that accepts only that token, with the same CA and proxy as the API.
func TestGitHubAppClone(t *testing.T) {
	h := newGHEHost(t, time.Hour)
	src := h.source(t, GitHubApp{AppID: 7, InstallationOwner: "WeirOrg", PrivateKey: h.api.PrivateKeyPEM, BaseURL: h.api.APIURL()}, h.auth())
	creds, err := src.Auth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a := h.auth()
	a.Username, a.Password = creds.Username, creds.Password
	opts := Options{URL: h.repo, Reference: Reference{Branch: "main"}, Auth: a}
	rev, err := LatestRevision(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	co, err := Clone(t.Context(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Hash != h.head || co.Revision.Hash != h.head {
		t.Fatalf("hashes %s and %s, want %s", rev.Hash, co.Revision.Hash, h.head)
	}
	if !h.proxy.Served(hostOf(t, h.git.URL)) {
		t.Errorf("Git was not reached through the proxy: %v", h.proxy.Targets())
	}
}

func otherKey(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
