// Package githubapp is a stand-in for the GitHub REST API endpoints a GitHub App uses to
// authenticate, for tests: it checks every App JWT (RS256, signed by the App's key, issued by
// its ID, at most ten minutes long), finds installations by organisation or user, and mints
// installation access tokens that a test Git server can require.
//
// Invariants: it is served over TLS only when the test gives it a certificate; tokens are
// "ghs_<installation>_<n>" with n counting from 1 per installation; it never logs a token.
package githubapp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// PathPrefix is the API root under the server's URL, as on GitHub Enterprise Server.
const PathPrefix = "/api/v3"

// Options configures the stand-in.
type Options struct {
	// AppID is the App's ID that JWTs must be issued by.
	AppID int64
	// Organizations and Users map account logins (compared without case) to installation IDs.
	Organizations, Users map[string]int64
	// TokenTTL is how long minted tokens are valid; an hour when zero.
	TokenTTL time.Duration
	// TLS, when set, serves HTTPS with this certificate, for example the one of the test Git
	// server of the same (GitHub Enterprise) host.
	TLS *tls.Certificate
}

// Server is a running stand-in.
type Server struct {
	// URL is the server's base URL; the API root is URL + PathPrefix.
	URL string
	// PrivateKeyPEM is the App's private key (PKCS#1 PEM), as in a githubAppPrivateKey.
	PrivateKeyPEM []byte

	opts   Options
	key    *rsa.PrivateKey
	mu     sync.Mutex
	minted map[int64]int
}

// Start starts the stand-in with a fresh App key and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(t, opts)
	srv := httptest.NewUnstartedServer(s)
	if opts.TLS != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*opts.TLS}, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// New returns the stand-in with a fresh App key, not serving: a larger stand-in (the GitHub
// REST API of internal/testenv/github) routes the App's endpoints to it and sets URL.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	return &Server{
		opts: opts, key: key, minted: map[int64]int{},
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
}

// ValidToken reports whether tok is an installation token the stand-in minted, and for which
// installation.
func (s *Server) ValidToken(tok string) (int64, bool) {
	rest, ok := strings.CutPrefix(tok, "ghs_")
	if !ok {
		return 0, false
	}
	inst, n, ok := strings.Cut(rest, "_")
	if !ok {
		return 0, false
	}
	id, err1 := strconv.ParseInt(inst, 10, 64)
	k, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || k < 1 {
		return 0, false
	}
	return id, k <= s.Minted(id)
}

// APIURL is the API root, as in a githubAppBaseURL.
func (s *Server) APIURL() string { return s.URL + PathPrefix }

// Minted returns how many tokens the installation got so far.
func (s *Server) Minted(installation int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted[installation]
}

// Token returns the n-th token of an installation.
func Token(installation int64, n int) string { return fmt.Sprintf("ghs_%d_%d", installation, n) }

// ServeHTTP implements the endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.validJWT(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, PathPrefix+"/")
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "orgs" && parts[2] == "installation":
		s.installation(w, s.opts.Organizations, parts[1])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "users" && parts[2] == "installation":
		s.installation(w, s.opts.Users, parts[1])
	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "app" && parts[1] == "installations" && parts[3] == "access_tokens":
		id, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || !s.known(id) {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		s.mu.Lock()
		s.minted[id]++
		n := s.minted[id]
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]any{
			"token":      Token(id, n),
			"expires_at": time.Now().Add(s.opts.TokenTTL).UTC().Format(time.RFC3339),
		})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

func (s *Server) installation(w http.ResponseWriter, accounts map[string]int64, login string) {
	for name, id := range accounts {
		if strings.EqualFold(name, login) {
			writeJSON(w, http.StatusOK, map[string]any{"id": id, "account": map[string]any{"login": name}})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

func (s *Server) known(id int64) bool {
	for _, m := range []map[string]int64{s.opts.Organizations, s.opts.Users} {
		for _, v := range m {
			if v == id {
				return true
			}
		}
	}
	return false
}

// validJWT checks the request's App JWT as GitHub does.
func (s *Server) validJWT(r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	var claims jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return &s.key.PublicKey, nil
	})
	if err != nil || !tok.Valid || claims.IssuedAt == nil || claims.ExpiresAt == nil {
		return false
	}
	return claims.Issuer == strconv.FormatInt(s.opts.AppID, 10) &&
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) <= 10*time.Minute
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
