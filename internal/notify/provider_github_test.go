package notify

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/weirgitops/weir/internal/event"
)

// githubFakePaths are the API paths of org/repo on a GitHub Enterprise fake.
const (
	githubFakeStatuses = "/api/v3/repos/org/repo/statuses/" + forgeSHA
	githubFakeList     = "/api/v3/repos/org/repo/commits/" + forgeSHA + "/statuses"
)

func TestGitHubCommitStatus(t *testing.T) {
	for _, tc := range []struct {
		name, severity, reason, state, desc string
	}{
		{"info is success", event.SeverityInfo, "ReconciliationSucceeded", "success", "reconciliation succeeded"},
		{"error is failure", event.SeverityError, "HealthCheckFailed", "failure", "health check failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newOrgRepoFake(t, "github")
			c.CommitStatus = forgeStatusKey
			f.reply(http.MethodGet, githubFakeList, http.StatusOK, `[{"context":"other","state":"success","description":"x"}]`)
			f.reply(http.MethodPost, githubFakeStatuses, http.StatusCreated, `{}`)
			n := mustNotifier(t, c)

			if err := n.Post(t.Context(), forgeEvent(tc.severity, tc.reason)); err != nil {
				t.Fatalf("Post: %v", err)
			}
			reqs := f.requests()
			assertForgeCalls(t, reqs, "GET "+githubFakeList+"?per_page=50", "POST "+githubFakeStatuses)
			for _, r := range reqs {
				assertForgeHeader(t, r, "Authorization", "Bearer "+forgeToken)
				assertForgeHeader(t, r, "X-GitHub-Api-Version", "2022-11-28")
			}
			assertJSON(t, reqs[1].Body, fmt.Sprintf(`{"state":%q,"description":%q,"context":%q}`, tc.state, tc.desc, forgeStatusKey))
		})
	}
}

func TestGitHubCommitStatusDuplicateAndSkips(t *testing.T) {
	f, c := newOrgRepoFake(t, "github")
	// No Alert key: the default one is derived from the provider UID and the object.
	f.reply(http.MethodGet, githubFakeList, http.StatusOK, fmt.Sprintf(
		`[{"context":%q,"state":"success","description":"reconciliation succeeded"},{"context":%q,"state":"failure","description":"old"}]`,
		forgeStatusKey, forgeStatusKey))
	n := mustNotifier(t, c)

	// The latest status of the context is the same: nothing is created.
	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests(), "GET "+githubFakeList+"?per_page=50")

	// A different state is set.
	f.reply(http.MethodPost, githubFakeStatuses, http.StatusCreated, `{}`)
	if err := n.Post(t.Context(), forgeEvent(event.SeverityError, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET "+githubFakeList+"?per_page=50", "POST "+githubFakeStatuses)
	assertJSON(t, reqs[1].Body, `{"state":"failure","description":"reconciliation succeeded","context":"`+forgeStatusKey+`"}`)

	forgeSkips(t, f, n, true)
}

func TestGitHubCommitStatusFailures(t *testing.T) {
	f, c := newOrgRepoFake(t, "github")
	n := mustNotifier(t, c)
	f.reply(http.MethodGet, githubFakeList, http.StatusOK, `[]`)
	assertForgeFailures(t, n, forgeEvent(event.SeverityInfo, "ReconciliationSucceeded"), func(status int) {
		f.reply(http.MethodPost, githubFakeStatuses, status, `{"message":"nope"}`)
	}, forgeToken)
	// A failed list is reported too.
	f.reply(http.MethodGet, githubFakeList, http.StatusUnauthorized, `{"message":"Bad credentials"}`)
	err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded"))
	if err == nil || Retryable(err) || strings.Contains(err.Error(), forgeToken) {
		t.Fatalf("list refused: %v", err)
	}
}

func TestGitHubConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"no token nor app", Config{Address: "https://github.com/org/repo", ProviderUID: forgeProviderUID}},
		{"no repository", Config{Address: "https://github.com/org", Token: "t", ProviderUID: forgeProviderUID}},
		{"no provider UID", Config{Address: "https://github.com/org/repo", Token: "t"}},
		{"app without installation", Config{Address: "https://github.com/org/repo", ProviderUID: forgeProviderUID,
			SecretData: map[string][]byte{"githubAppID": []byte("1"), "githubAppPrivateKey": []byte("x")}}},
		{"app with a bad key", Config{Address: "https://github.com/org/repo", ProviderUID: forgeProviderUID,
			SecretData: map[string][]byte{"githubAppID": []byte("1"), "githubAppInstallationID": []byte("2"), "githubAppPrivateKey": []byte("not a key")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Type = "github"
			if _, err := New(tc.c); err == nil || Retryable(err) {
				t.Fatalf("New: %v, want a permanent error", err)
			}
		})
	}

	// The API of github.com is api.github.com; other hosts are GitHub Enterprise Servers.
	for addr, want := range map[string]string{
		"https://github.com/org/repo":             "https://api.github.com/",
		"git@github.com:org/repo.git":             "https://api.github.com/",
		"https://ghe.example.com/org/repo":        "https://ghe.example.com/api/v3/",
		"ssh://git@ghe.example.com:2222/org/repo": "https://ghe.example.com:2222/api/v3/",
	} {
		conn, err := newGitHubConn(Config{Address: addr, BasicPassword: "from-password", Timeout: time.Second})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		gc, _, err := conn.client(t.Context(), false)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if got := gc.BaseURL(); got != want {
			t.Errorf("%s: API %q, want %q", addr, got, want)
		}
	}
}

// githubTestApp is a GitHub App's key, and the Secret data that names it.
func githubTestApp(t *testing.T, f *forgeFake, extra map[string]string) (*rsa.PrivateKey, map[string][]byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	data := map[string][]byte{
		"githubAppID":         []byte("42"),
		"githubAppPrivateKey": pemKey,
		"githubAppBaseURL":    []byte(f.srv.URL + "/api/v3"),
	}
	for k, v := range extra {
		data[k] = []byte(v)
	}
	return key, data
}

// githubAppTokenRoute answers installation token requests of installation 123 signed by key.
func githubAppTokenRoute(t *testing.T, f *forgeFake, key *rsa.PrivateKey) {
	f.on(http.MethodPost, "/api/v3/app/installations/123/access_tokens", func(r forgeRequest) (int, any) {
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims := &jwt.RegisteredClaims{}
		if _, err := jwt.ParseWithClaims(bearer, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil }); err != nil {
			t.Errorf("app JWT: %v", err)
			return http.StatusUnauthorized, `{"message":"bad JWT"}`
		}
		if claims.Issuer != "42" {
			t.Errorf("app JWT issuer %q, want 42", claims.Issuer)
		}
		return http.StatusCreated, `{"token":"ghs_installation","expires_at":"2099-01-01T00:00:00Z"}`
	})
}

func TestGitHubAppAuthentication(t *testing.T) {
	t.Run("installation ID", func(t *testing.T) {
		f, c := newOrgRepoFake(t, "github")
		c.Token = ""
		key, data := githubTestApp(t, f, map[string]string{"githubAppInstallationID": "123"})
		c.SecretData = data
		githubAppTokenRoute(t, f, key)
		f.reply(http.MethodGet, githubFakeList, http.StatusOK, `[]`)
		f.reply(http.MethodPost, githubFakeStatuses, http.StatusCreated, `{}`)

		if err := mustNotifier(t, c).Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "POST /api/v3/app/installations/123/access_tokens", "GET "+githubFakeList+"?per_page=50", "POST "+githubFakeStatuses)
		assertForgeHeader(t, reqs[1], "Authorization", "Bearer ghs_installation")
		assertForgeHeader(t, reqs[2], "Authorization", "Bearer ghs_installation")
	})
	t.Run("installation owner", func(t *testing.T) {
		f, c := newOrgRepoFake(t, "github")
		c.Token = ""
		key, data := githubTestApp(t, f, map[string]string{"githubAppInstallationOwner": "someone"})
		c.SecretData = data
		githubAppTokenRoute(t, f, key)
		// Not an organization: the user's installation is used.
		f.reply(http.MethodGet, "/api/v3/users/someone/installation", http.StatusOK, `{"id":123}`)
		f.reply(http.MethodGet, githubFakeList, http.StatusOK, `[]`)
		f.reply(http.MethodPost, githubFakeStatuses, http.StatusCreated, `{}`)

		if err := mustNotifier(t, c).Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
			t.Fatalf("Post: %v", err)
		}
		assertForgeCalls(t, f.requests(),
			"GET /api/v3/orgs/someone/installation", "GET /api/v3/users/someone/installation",
			"POST /api/v3/app/installations/123/access_tokens", "GET "+githubFakeList+"?per_page=50", "POST "+githubFakeStatuses)
	})
	t.Run("token refused", func(t *testing.T) {
		f, c := newOrgRepoFake(t, "github")
		c.Token = ""
		_, data := githubTestApp(t, f, map[string]string{"githubAppInstallationID": "123"})
		c.SecretData = data
		f.reply(http.MethodPost, "/api/v3/app/installations/123/access_tokens", http.StatusUnauthorized, `{"message":"A JSON web token could not be decoded"}`)
		err := mustNotifier(t, c).Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded"))
		if err == nil || Retryable(err) || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("Post: %v, want a permanent error without the key", err)
		}
	})
}
