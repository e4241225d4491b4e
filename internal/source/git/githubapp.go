package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"
)

// GitHubAppUsername is the HTTP user name that goes with an installation
// access token.
const GitHubAppUsername = "x-access-token"

// DefaultGitHubAPIURL is the GitHub REST API used when no base URL is given.
const DefaultGitHubAPIURL = "https://api.github.com"

const (
	// maxAPIResponse bounds how much of a GitHub API response is read.
	maxAPIResponse = 4 << 20
	// apiTimeout bounds the API calls of one Token call.
	apiTimeout = 30 * time.Second
)

// GitHubApp identifies a GitHub App installation, as in a `provider: github`
// GitRepository's Secret.
type GitHubApp struct {
	// AppID is the App's numeric ID.
	AppID int64
	// InstallationID selects the installation; when zero the installation
	// of InstallationOwner is looked up.
	InstallationID int64
	// InstallationOwner is the account (organisation or user) the App is
	// installed on; used only when InstallationID is zero.
	InstallationOwner string
	// PrivateKey is the App's PEM RSA private key (PKCS#1 or PKCS#8).
	PrivateKey []byte
	// BaseURL is the REST API root, used as given; DefaultGitHubAPIURL when
	// empty (GitHub Enterprise Server: "https://host/api/v3").
	BaseURL string
}

// GitHubToken is an installation access token.
type GitHubToken struct {
	Token     string
	ExpiresAt time.Time
}

// GitHubAppTokenSource mints installation access tokens for one App
// installation with ghinstallation's transports and go-github, and keeps
// each token until a minute before it expires. It is safe for concurrent
// use.
type GitHubAppTokenSource struct {
	app  GitHubApp
	apps *ghinstallation.AppsTransport

	mu           sync.Mutex
	installation *ghinstallation.Transport // nil until the installation is known
}

// GitHubAppOption configures a GitHubAppTokenSource.
type GitHubAppOption func(*githubAppConfig)

type githubAppConfig struct {
	transport http.RoundTripper
}

// WithTransport sets the HTTP transport of the API calls: the repository's
// CA, client certificate and proxy (see HTTPTransport). The default is
// http.DefaultTransport.
func WithTransport(rt http.RoundTripper) GitHubAppOption {
	return func(c *githubAppConfig) { c.transport = rt }
}

// NewGitHubAppTokenSource validates app and parses its key; it does no I/O.
// Errors wrap ErrAuthentication.
func NewGitHubAppTokenSource(app GitHubApp, opts ...GitHubAppOption) (*GitHubAppTokenSource, error) {
	if app.AppID <= 0 {
		return nil, fmt.Errorf("%w: github app id is required", ErrAuthentication)
	}
	if (app.InstallationID == 0) == (app.InstallationOwner == "") {
		return nil, fmt.Errorf("%w: exactly one of github app installation id and installation owner is required", ErrAuthentication)
	}
	cfg := githubAppConfig{transport: http.DefaultTransport}
	for _, o := range opts {
		o(&cfg)
	}
	apps, err := ghinstallation.NewAppsTransport(limitedBodies{cfg.transport}, app.AppID, app.PrivateKey)
	if err != nil {
		// The parse error may describe the key; keep only the kind.
		return nil, fmt.Errorf("%w: cannot parse github app private key (PEM RSA, PKCS#1 or PKCS#8)", ErrAuthentication)
	}
	if app.BaseURL == "" {
		app.BaseURL = DefaultGitHubAPIURL
	}
	app.BaseURL = strings.TrimSuffix(app.BaseURL, "/")
	apps.BaseURL = app.BaseURL
	return &GitHubAppTokenSource{app: app, apps: apps}, nil
}

// Token returns a valid installation token, the cached one while it has
// more than a minute left.
func (s *GitHubAppTokenSource) Token(ctx context.Context) (GitHubToken, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.installation == nil {
		id := s.app.InstallationID
		if id == 0 {
			var err error
			if id, err = s.findInstallation(ctx); err != nil {
				return GitHubToken{}, err
			}
		}
		tr := ghinstallation.NewFromAppsTransport(s.apps, id)
		tr.BaseURL = s.app.BaseURL
		s.installation = tr
	}
	tok, err := s.installation.Token(ctx)
	if err != nil {
		return GitHubToken{}, fmt.Errorf("create github app installation token: %w", apiError(err))
	}
	expires, _, err := s.installation.Expiry()
	if err != nil {
		return GitHubToken{}, fmt.Errorf("create github app installation token: %w", err)
	}
	return GitHubToken{Token: tok, ExpiresAt: expires}, nil
}

// Auth returns HTTP credentials for Git built from a valid token.
func (s *GitHubAppTokenSource) Auth(ctx context.Context) (Auth, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return Auth{}, err
	}
	return Auth{Username: GitHubAppUsername, Password: tok.Token}, nil
}

// findInstallation looks the owner's installation up, as an organisation
// first and then as a user.
func (s *GitHubAppTokenSource) findInstallation(ctx context.Context) (int64, error) {
	base := s.app.BaseURL + "/"
	gh, err := github.NewClient(github.WithHTTPClient(&http.Client{Transport: s.apps}), github.WithURLs(&base, &base))
	if err != nil {
		return 0, fmt.Errorf("%w: github app base url: %w", ErrAuthentication, err)
	}
	owner := s.app.InstallationOwner
	inst, _, err := gh.Apps.GetOrganizationInstallation(ctx, owner)
	if err == nil {
		return inst.GetID(), nil
	}
	if !notFound(err) {
		return 0, fmt.Errorf("find github app installation of %q: %w", owner, apiError(err))
	}
	inst, _, err = gh.Apps.GetUserInstallation(ctx, owner)
	if err == nil {
		return inst.GetID(), nil
	}
	if notFound(err) {
		return 0, fmt.Errorf("%w: github app is not installed for owner %q", ErrAuthentication, owner)
	}
	return 0, fmt.Errorf("find github app installation of %q: %w", owner, apiError(err))
}

// statusOf returns the HTTP status of a go-github or ghinstallation error,
// 0 when it has none, closing a response body ghinstallation left open.
func statusOf(err error) int {
	var ghErr *github.ErrorResponse
	if errors.As(err, &ghErr) && ghErr.Response != nil {
		return ghErr.Response.StatusCode
	}
	var instErr *ghinstallation.HTTPError
	if errors.As(err, &instErr) && instErr.Response != nil {
		if instErr.Response.Body != nil {
			_ = instErr.Response.Body.Close()
		}
		return instErr.Response.StatusCode
	}
	return 0
}

func notFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// apiError marks the answers that mean the App's credentials or installation
// were refused as ErrAuthentication.
func apiError(err error) error {
	switch statusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return wrapKind(ErrAuthentication, err)
	}
	return err
}

// limitedBodies bounds every response body read through it.
type limitedBodies struct{ rt http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (l limitedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, maxAPIResponse), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
