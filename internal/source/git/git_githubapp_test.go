package git

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// fakeGitHub implements the GitHub App endpoints used by the token source and
// checks every JWT's signature and claims.
type fakeGitHub struct {
	t      *testing.T
	pub    *rsa.PublicKey
	appID  string
	now    func() time.Time
	tokens atomic.Int64
	lists  atomic.Int64
	ttl    time.Duration
}

func (g *fakeGitHub) checkJWT(r *http.Request) bool {
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(g.pub, crypto.SHA256, sum[:], sig) != nil {
		return false
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss string `json:"iss"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Iss != g.appID {
		return false
	}
	now := g.now().Unix()
	return claims.Iat <= now && now < claims.Exp && claims.Exp-claims.Iat <= 600
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.checkJWT(r) {
		http.Error(w, `{"message":"bad credentials"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v3/app/installations":
		g.lists.Add(1)
		all := []map[string]any{
			{"id": 11, "account": map[string]any{"login": "someone"}},
			{"id": 42, "account": map[string]any{"login": "WeirOrg"}},
		}
		var page []map[string]any
		if r.URL.Query().Get("page") == "" {
			page = all[:1]
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/api/v3/app/installations?page=2>; rel="next"`, r.Host))
		} else {
			page = all[1:]
		}
		_ = json.NewEncoder(w).Encode(page)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v3/app/installations/42/access_tokens":
		n := g.tokens.Add(1)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token":      fmt.Sprintf("ghs_token%d", n),
			"expires_at": g.now().Add(g.ttl).UTC().Format(time.RFC3339),
		})
	default:
		http.NotFound(w, r)
	}
}

func TestGitHubAppTokenSource(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	var (
		mu  sync.Mutex
		now = time.Now()
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	gh := &fakeGitHub{t: t, pub: &key.PublicKey, appID: "123", now: clock, ttl: time.Hour}
	api := httptest.NewServer(gh)
	t.Cleanup(api.Close)

	tests := []struct {
		name string
		app  GitHubApp
	}{
		{"installation id", GitHubApp{AppID: 123, InstallationID: 42, PrivateKey: keyPEM, BaseURL: api.URL + "/api/v3/"}},
		{"installation owner", GitHubApp{AppID: 123, InstallationOwner: "weirorg", PrivateKey: keyPEM, BaseURL: api.URL + "/api/v3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh.tokens.Store(0)
			src, err := NewGitHubAppTokenSource(tt.app, WithClock(clock), WithHTTPClient(api.Client()))
			if err != nil {
				t.Fatal(err)
			}
			tok1, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			tok2, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok1.Token != tok2.Token || gh.tokens.Load() != 1 {
				t.Fatalf("token not cached: %q then %q after %d requests", tok1.Token, tok2.Token, gh.tokens.Load())
			}
			advance(56 * time.Minute) // inside the 5 minute refresh margin
			tok3, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok3.Token == tok1.Token || gh.tokens.Load() != 2 {
				t.Fatalf("token not refreshed before expiry: %q", tok3.Token)
			}
			auth, err := src.Auth(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if auth.Username != GitHubAppUsername || auth.Password != tok3.Token {
				t.Fatalf("auth = %q/%q", auth.Username, auth.Password)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
		src, err := NewGitHubAppTokenSource(GitHubApp{AppID: 123, InstallationID: 42, PrivateKey: otherPEM, BaseURL: api.URL + "/api/v3"}, WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Token(t.Context()); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("error = %v, want ErrAuthentication", err)
		}
	})
	t.Run("unknown owner", func(t *testing.T) {
		src, err := NewGitHubAppTokenSource(GitHubApp{AppID: 123, InstallationOwner: "nobody", PrivateKey: keyPEM, BaseURL: api.URL + "/api/v3"}, WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Token(t.Context()); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("error = %v, want ErrAuthentication", err)
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		for _, app := range []GitHubApp{
			{InstallationID: 1, PrivateKey: keyPEM},
			{AppID: 1, PrivateKey: keyPEM},
			{AppID: 1, InstallationID: 1, InstallationOwner: "x", PrivateKey: keyPEM},
			{AppID: 1, InstallationID: 1, PrivateKey: []byte("not pem")},
		} {
			if _, err := NewGitHubAppTokenSource(app); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("NewGitHubAppTokenSource(%+v) error = %v, want ErrAuthentication", app.AppID, err)
			}
		}
	})
}

// TestGitHubAppClone uses an installation token as Git credentials against a
// server that accepts only that token.
func TestGitHubAppClone(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	gh := &fakeGitHub{t: t, pub: &key.PublicKey, appID: "7", now: time.Now, ttl: time.Hour}
	api := httptest.NewServer(gh)
	t.Cleanup(api.Close)

	root := gitserver.NewRoot(t)
	repo := root.NewRepo("org/private.git")
	head := repo.Commit("main", "init", map[string]string{"f": "x"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: GitHubAppUsername, Password: "ghs_token1"})

	src, err := NewGitHubAppTokenSource(GitHubApp{AppID: 7, InstallationID: 42, PrivateKey: keyPEM, BaseURL: api.URL + "/api/v3"})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := src.Auth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rev, err := LatestRevision(t.Context(), Options{URL: srv.RepoURL(repo.Name), Reference: Reference{Branch: "main"}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if rev.Hash != head {
		t.Fatalf("hash %s, want %s", rev.Hash, head)
	}
}
