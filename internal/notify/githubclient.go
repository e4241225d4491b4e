package notify

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v88/github"
)

// This file holds the GitHub API client of the github, githubdispatch and
// githubpullrequestcomment providers: go-github on the Provider's HTTP client, authenticated
// with the Secret's token (or password) or, without one, as a GitHub App installation from the
// Secret's githubAppID, githubAppInstallationID or githubAppInstallationOwner,
// githubAppPrivateKey and githubAppBaseURL keys, as Flux 2.9 reads them.

// Secret keys of GitHub App authentication, Flux's names.
const (
	githubAppIDKey                = "githubAppID"
	githubAppInstallationIDKey    = "githubAppInstallationID"
	githubAppInstallationOwnerKey = "githubAppInstallationOwner"
	githubAppPrivateKeyKey        = "githubAppPrivateKey"
	githubAppBaseURLKey           = "githubAppBaseURL"
)

// githubDefaultAPI is the API of github.com, where GitHub Apps are authenticated unless
// githubAppBaseURL says otherwise.
const githubDefaultAPI = "https://api.github.com/"

// githubConn is what a GitHub provider connects with, checked when the Notifier is built; the
// network is only used in Post.
type githubConn struct {
	repo        gitRepo
	owner, name string
	token       string
	app         *githubApp
	hc          *http.Client
}

// githubApp is a GitHub App's identity, for installation tokens.
type githubApp struct {
	id                int64
	installationID    int64
	installationOwner string
	key               *rsa.PrivateKey
	apiURL            string
	now               func() time.Time
}

func newGitHubConn(c Config) (*githubConn, error) {
	repo, err := parseGitRepoAddress(c.Address)
	if err != nil {
		return nil, err
	}
	owner, name, err := repo.ownerRepo()
	if err != nil {
		return nil, err
	}
	g := &githubConn{repo: repo, owner: owner, name: name, token: c.Token}
	if g.token == "" {
		g.token = c.BasicPassword
	}
	if g.token == "" {
		if _, ok := c.SecretData[githubAppIDKey]; !ok {
			return nil, Permanent(errors.New("github token or github app details must be specified"))
		}
		if g.app, err = newGitHubApp(c.SecretData); err != nil {
			return nil, err
		}
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	hc.Transport = limitedBodyTransport{rt: hc.Transport, limit: maxAPIResponse}
	g.hc = hc
	return g, nil
}

// newGitHubApp reads a GitHub App's identity from a Secret.
func newGitHubApp(data map[string][]byte) (*githubApp, error) {
	app := &githubApp{apiURL: githubDefaultAPI, now: time.Now}
	var err error
	if app.id, err = strconv.ParseInt(strings.TrimSpace(string(data[githubAppIDKey])), 10, 64); err != nil || app.id <= 0 {
		return nil, Permanent(errors.New("app ID must be provided to use github app authentication"))
	}
	app.installationOwner = strings.TrimSpace(string(data[githubAppInstallationOwnerKey]))
	if v, ok := data[githubAppInstallationIDKey]; ok {
		if app.installationID, err = strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64); err != nil || app.installationID <= 0 {
			return nil, Permanent(errors.New("invalid app installation ID"))
		}
	}
	switch {
	case app.installationOwner == "" && app.installationID == 0:
		return nil, Permanent(errors.New("app installation owner or ID must be provided to use github app authentication"))
	case app.installationOwner != "" && app.installationID != 0:
		return nil, Permanent(errors.New("only one of app installation owner or ID must be provided to use github app authentication"))
	}
	pem := data[githubAppPrivateKeyKey]
	if len(pem) == 0 {
		return nil, Permanent(errors.New("private key must be provided to use github app authentication"))
	}
	if app.key, err = jwt.ParseRSAPrivateKeyFromPEM(pem); err != nil {
		// The parser's message names the PEM problem, never the key.
		return nil, Permanent(fmt.Errorf("could not parse private key: %w", err))
	}
	if v := strings.TrimSpace(string(data[githubAppBaseURLKey])); v != "" {
		if !strings.HasSuffix(v, "/") {
			v += "/"
		}
		if _, err := url.Parse(v); err != nil {
			return nil, Permanent(fmt.Errorf("invalid %s %q", githubAppBaseURLKey, redactURL(v)))
		}
		app.apiURL = v
	}
	return app, nil
}

// client returns a client of the repository's API, and the App's slug when authenticated as an
// App and withSlug asks for it (its comments are signed "<slug>[bot]").
func (g *githubConn) client(ctx context.Context, withSlug bool) (*github.Client, string, error) {
	token, slug := g.token, ""
	if g.app != nil {
		var err error
		if token, slug, err = g.app.installationToken(ctx, g.hc, withSlug); err != nil {
			return nil, "", err
		}
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(g.hc), github.WithAuthToken(token)}
	if g.repo.host != "github.com" {
		// GitHub Enterprise Server: the API is under /api/v3 of the address's host.
		opts = append(opts, github.WithEnterpriseURLs(g.repo.base, g.repo.base))
	}
	gc, err := github.NewClient(opts...)
	if err != nil {
		return nil, "", Permanent(fmt.Errorf("could not create GitHub client: %w", err))
	}
	return gc, slug, nil
}

// installationToken authenticates as the App with a short-lived JWT and creates an installation
// token, looking the installation up by owner (an organization, else a user) when its ID is
// not given.
func (a *githubApp) installationToken(ctx context.Context, hc *http.Client, withSlug bool) (token, slug string, err error) {
	now := a.now().Truncate(time.Second).Add(-30 * time.Second)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute)),
		Issuer:    strconv.FormatInt(a.id, 10),
	}).SignedString(a.key)
	if err != nil {
		return "", "", Permanent(fmt.Errorf("sign github app token: %w", err))
	}
	gc, err := github.NewClient(github.WithHTTPClient(hc), github.WithAuthToken(signed), github.WithURLs(&a.apiURL, &a.apiURL))
	if err != nil {
		return "", "", Permanent(fmt.Errorf("invalid %s", githubAppBaseURLKey))
	}
	if withSlug {
		app, _, err := gc.Apps.Get(ctx, "")
		if err != nil {
			return "", "", fmt.Errorf("failed to get app information: %w", githubError(err))
		}
		slug = app.GetSlug()
	}
	id := a.installationID
	if id == 0 {
		inst, _, orgErr := gc.Apps.GetOrganizationInstallation(ctx, a.installationOwner)
		if orgErr == nil {
			id = inst.GetID()
		} else {
			inst, _, userErr := gc.Apps.GetUserInstallation(ctx, a.installationOwner)
			if userErr != nil {
				return "", "", errors.Join(
					fmt.Errorf("failed to find organization installation: %w", githubError(orgErr)),
					fmt.Errorf("failed to find user installation: %w", githubError(userErr)))
			}
			id = inst.GetID()
		}
	}
	it, _, err := gc.Apps.CreateInstallationToken(ctx, id, nil)
	if err != nil {
		return "", "", fmt.Errorf("failed to create github app installation token: %w", githubError(err))
	}
	return it.GetToken(), slug, nil
}

// githubError turns go-github's answer errors into *HTTPError, so that Retryable decides on
// the status (rate limits count as 429), with the URL redacted.
func githubError(err error) error {
	status, msg, resp := 0, "", (*http.Response)(nil)
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		status, msg, resp = http.StatusTooManyRequests, rl.Message, rl.Response
	case errors.As(err, &abuse):
		status, msg, resp = http.StatusTooManyRequests, abuse.Message, abuse.Response
	case errors.As(err, &er) && er.Response != nil:
		status, msg, resp = er.Response.StatusCode, er.Message, er.Response
	default:
		return err
	}
	u := ""
	if resp != nil && resp.Request != nil && resp.Request.URL != nil {
		u = resp.Request.URL.String()
	}
	return &HTTPError{Status: status, URL: redactURL(u), Body: msg}
}
