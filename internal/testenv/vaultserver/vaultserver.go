// Package vaultserver is a real HTTP server standing in for HashiCorp Vault (or OpenBao) in
// tests: the transit secrets engine's encrypt and decrypt endpoints, token authentication,
// and a JWT login endpoint (as the kubernetes and jwt auth methods) whose tokens the test
// decides to accept. It speaks the wire format of Vault's HTTP API, so SOPS' own Vault key
// source and Vault's Go client talk to it unchanged.
package vaultserver

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is a running stand-in.
type Server struct {
	// URL is the server's address (http://127.0.0.1:port).
	URL string
	// Token is a root token the server accepts.
	Token string

	aead cipher.AEAD
	mu   sync.Mutex
	// tokens are the accepted client tokens.
	tokens map[string]bool
	// login decides JWT logins: the role and token presented, the login path.
	login func(path, role, jwt string) bool
	// Decrypts counts transit decryptions.
	decrypts int
}

// Start starts a stand-in; it stops with the test.
func Start(t testing.TB) *Server {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Token: "hvs.root-" + base64.RawURLEncoding.EncodeToString(key[:6]), aead: aead, tokens: map[string]bool{}}
	s.tokens[s.Token] = true
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// AcceptLogins makes POST /v1/<path> (a JWT login) succeed when accept returns true.
func (s *Server) AcceptLogins(accept func(path, role, jwt string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.login = accept
}

// Decrypts is how many transit decryptions succeeded.
func (s *Server) Decrypts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decrypts
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		vaultError(w, http.StatusMethodNotAllowed, "unsupported method")
		return
	}
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		vaultError(w, http.StatusBadRequest, "invalid JSON body")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	str := func(k string) string { v, _ := body[k].(string); return v }
	if strings.HasPrefix(path, "auth/") && strings.HasSuffix(path, "/login") {
		s.mu.Lock()
		ok := s.login != nil && s.login(path, str("role"), str("jwt"))
		var token string
		if ok {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			token = "hvs.login-" + base64.RawURLEncoding.EncodeToString(b)
			s.tokens[token] = true
		}
		s.mu.Unlock()
		if !ok {
			vaultError(w, http.StatusForbidden, "permission denied")
			return
		}
		writeJSON(w, map[string]any{"auth": map[string]any{"client_token": token, "lease_duration": 600, "renewable": false}})
		return
	}
	s.mu.Lock()
	authorized := s.tokens[r.Header.Get("X-Vault-Token")]
	s.mu.Unlock()
	if !authorized {
		vaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	// <engine>/encrypt/<key> and <engine>/decrypt/<key>
	parts := strings.Split(path, "/")
	if len(parts) < 3 {
		vaultError(w, http.StatusNotFound, "no handler for route")
		return
	}
	aad := []byte(strings.Join(append(parts[:len(parts)-2:len(parts)-2], parts[len(parts)-1]), "/"))
	switch parts[len(parts)-2] {
	case "encrypt":
		plain, err := base64.StdEncoding.DecodeString(str("plaintext"))
		if err != nil {
			vaultError(w, http.StatusBadRequest, "plaintext is not base64")
			return
		}
		nonce := make([]byte, s.aead.NonceSize())
		_, _ = rand.Read(nonce)
		sealed := s.aead.Seal(nonce, nonce, plain, aad)
		writeJSON(w, map[string]any{"data": map[string]any{"ciphertext": "vault:v1:" + base64.StdEncoding.EncodeToString(sealed)}})
	case "decrypt":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(str("ciphertext"), "vault:v1:"))
		if err != nil || len(raw) < s.aead.NonceSize() {
			vaultError(w, http.StatusBadRequest, "invalid ciphertext")
			return
		}
		plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], aad)
		if err != nil {
			vaultError(w, http.StatusBadRequest, "cipher: message authentication failed")
			return
		}
		s.mu.Lock()
		s.decrypts++
		s.mu.Unlock()
		writeJSON(w, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)}})
	default:
		vaultError(w, http.StatusNotFound, "no handler for route")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func vaultError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []string{msg}})
}
