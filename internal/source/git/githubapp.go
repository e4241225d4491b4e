package git

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GitHubAppUsername is the HTTP user name that goes with an installation
// access token.
const GitHubAppUsername = "x-access-token"

// DefaultGitHubAPIURL is the GitHub REST API used when no base URL is given.
const DefaultGitHubAPIURL = "https://api.github.com"

// maxAPIResponse bounds how much of a GitHub API response is read.
const maxAPIResponse = 4 << 20

// GitHubApp identifies a GitHub App installation, as in a `provider: github`
// GitRepository's Secret.
type GitHubApp struct {
	// AppID is the App's numeric ID.
	AppID int64
	// InstallationID selects the installation; when zero the installation
	// of InstallationOwner is looked up.
	InstallationID int64
	// InstallationOwner is the account (user or organisation) the App is
	// installed on; used only when InstallationID is zero.
	InstallationOwner string
	// PrivateKey is the App's PEM RSA private key (PKCS#1 or PKCS#8).
	PrivateKey []byte
	// BaseURL is the REST API root, DefaultGitHubAPIURL when empty
	// (GitHub Enterprise: "https://host/api/v3").
	BaseURL string
}

// GitHubToken is an installation access token.
type GitHubToken struct {
	Token     string
	ExpiresAt time.Time
}

// GitHubAppTokenSource mints installation access tokens for one App
// installation and caches each until shortly before it expires. It is safe
// for concurrent use.
type GitHubAppTokenSource struct {
	app    GitHubApp
	key    *rsa.PrivateKey
	client *http.Client
	now    func() time.Time
	margin time.Duration

	mu             sync.Mutex
	installationID int64
	cached         GitHubToken
}

// GitHubAppOption configures a GitHubAppTokenSource.
type GitHubAppOption func(*GitHubAppTokenSource)

// WithHTTPClient sets the client for API calls (for a CA bundle, a proxy,
// or tests). The default has a 30 s timeout.
func WithHTTPClient(c *http.Client) GitHubAppOption {
	return func(s *GitHubAppTokenSource) { s.client = c }
}

// WithClock injects the time source.
func WithClock(now func() time.Time) GitHubAppOption {
	return func(s *GitHubAppTokenSource) { s.now = now }
}

// WithRefreshMargin sets how long before expiry a cached token is replaced
// (default 5 minutes).
func WithRefreshMargin(d time.Duration) GitHubAppOption {
	return func(s *GitHubAppTokenSource) { s.margin = d }
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
	key, err := parseRSAKey(app.PrivateKey)
	if err != nil {
		return nil, err
	}
	if app.BaseURL == "" {
		app.BaseURL = DefaultGitHubAPIURL
	}
	app.BaseURL = strings.TrimSuffix(app.BaseURL, "/")
	s := &GitHubAppTokenSource{
		app:            app,
		key:            key,
		client:         &http.Client{Timeout: 30 * time.Second},
		now:            time.Now,
		margin:         5 * time.Minute,
		installationID: app.InstallationID,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: github app private key is not PEM", ErrAuthentication)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot parse github app private key", ErrAuthentication)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: github app private key is not RSA", ErrAuthentication)
	}
	return rk, nil
}

// Token returns a valid installation token, from the cache when it has more
// than the refresh margin left.
func (s *GitHubAppTokenSource) Token(ctx context.Context) (GitHubToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cached.Token != "" && now.Add(s.margin).Before(s.cached.ExpiresAt) {
		return s.cached, nil
	}
	jwt, err := s.appJWT(now)
	if err != nil {
		return GitHubToken{}, err
	}
	if s.installationID == 0 {
		id, err := s.findInstallation(ctx, jwt)
		if err != nil {
			return GitHubToken{}, err
		}
		s.installationID = id
	}
	tok, err := s.createToken(ctx, jwt, s.installationID)
	if err != nil {
		return GitHubToken{}, err
	}
	s.cached = tok
	return tok, nil
}

// Auth returns HTTP credentials for Git built from a valid token.
func (s *GitHubAppTokenSource) Auth(ctx context.Context) (Auth, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return Auth{}, err
	}
	return Auth{Username: GitHubAppUsername, Password: tok.Token}, nil
}

// appJWT signs the App's JSON Web Token (RS256). It is backdated a minute for
// clock drift and lives nine minutes (GitHub allows ten).
func (s *GitHubAppTokenSource) appJWT(now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": strconv.FormatInt(s.app.AppID, 10),
	})
	if err != nil {
		return "", err
	}
	signing := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign github app jwt: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

func (s *GitHubAppTokenSource) findInstallation(ctx context.Context, jwt string) (int64, error) {
	url := s.app.BaseURL + "/app/installations?per_page=100"
	for page := 0; url != "" && page < 100; page++ {
		var list []struct {
			ID      int64 `json:"id"`
			Account struct {
				Login string `json:"login"`
			} `json:"account"`
		}
		next, err := s.call(ctx, http.MethodGet, url, jwt, &list)
		if err != nil {
			return 0, fmt.Errorf("list github app installations: %w", err)
		}
		for _, in := range list {
			if strings.EqualFold(in.Account.Login, s.app.InstallationOwner) {
				return in.ID, nil
			}
		}
		url = next
	}
	return 0, fmt.Errorf("%w: github app is not installed for owner %q", ErrAuthentication, s.app.InstallationOwner)
}

func (s *GitHubAppTokenSource) createToken(ctx context.Context, jwt string, id int64) (GitHubToken, error) {
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	url := fmt.Sprintf("%s/app/installations/%d/access_tokens", s.app.BaseURL, id)
	if _, err := s.call(ctx, http.MethodPost, url, jwt, &out); err != nil {
		return GitHubToken{}, fmt.Errorf("create github app installation token: %w", err)
	}
	if out.Token == "" {
		return GitHubToken{}, fmt.Errorf("create github app installation token: empty token in response")
	}
	return GitHubToken{Token: out.Token, ExpiresAt: out.ExpiresAt}, nil
}

// call does one API request and decodes the JSON answer into out; it returns
// the next page's URL from the Link header, if any.
func (s *GitHubAppTokenSource) call(ctx context.Context, method, url, jwt string, out any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(nil))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return "", err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%w: %s %s: %s", ErrAuthentication, method, req.URL.Path, resp.Status)
	case resp.StatusCode/100 != 2:
		return "", fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return "", fmt.Errorf("decode %s: %w", req.URL.Path, err)
	}
	return nextLink(resp.Header.Get("Link")), nil
}

// nextLink extracts the rel="next" URL from a Link header.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		for _, p := range segs[1:] {
			if strings.TrimSpace(p) == `rel="next"` {
				return strings.Trim(strings.TrimSpace(segs[0]), "<>")
			}
		}
	}
	return ""
}
