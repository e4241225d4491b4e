package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	authenticationv1 "k8s.io/api/authentication/v1"
)

// sessionCookie holds the signed session.
const sessionCookie = "weir_session"

// sessionTTL bounds a session.
const sessionTTL = 8 * time.Hour

// Session is who is signed in.
type Session struct {
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
	// Local sessions act with the server's own credentials (weir ui's kubeconfig user).
	Local bool `json:"local,omitempty"`
	// CSRF is the token every state-changing request must carry.
	CSRF    string `json:"csrf"`
	Expires int64  `json:"exp"`
}

// sessions signs and reads session cookies.
type sessions struct {
	key    []byte
	secure bool
}

func newSessions(secure bool) (*sessions, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &sessions{key: key, secure: secure}, nil
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) sign(payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// start writes a new session cookie.
func (s *sessions) start(w http.ResponseWriter, sess Session) {
	sess.CSRF = randomToken()
	sess.Expires = time.Now().Add(sessionTTL).Unix()
	payload, _ := json.Marshal(sess)
	value := base64.RawURLEncoding.EncodeToString(payload) + "." + s.sign(payload)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
}

// read returns the request's valid session, or nil.
func (s *sessions) read(r *http.Request) *Session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	enc, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || subtle.ConstantTimeCompare([]byte(s.sign(payload)), []byte(sig)) != 1 {
		return nil
	}
	var sess Session
	if json.Unmarshal(payload, &sess) != nil || time.Now().Unix() > sess.Expires {
		return nil
	}
	return &sess
}

func (s *sessions) end(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// tokenLogin signs in with a Kubernetes bearer token, checked by a TokenReview.
func (srv *Server) tokenLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&body); err != nil || strings.TrimSpace(body.Token) == "" {
		writeError(w, http.StatusBadRequest, "a token is required")
		return
	}
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: strings.TrimSpace(body.Token)}}
	if err := srv.opts.Client.Create(r.Context(), tr); err != nil {
		writeError(w, http.StatusBadGateway, "the token could not be reviewed")
		return
	}
	if !tr.Status.Authenticated {
		writeError(w, http.StatusUnauthorized, "the token was not accepted")
		return
	}
	srv.sessions.start(w, Session{User: tr.Status.User.Username, Groups: tr.Status.User.Groups})
	writeJSON(w, map[string]string{"user": tr.Status.User.Username})
}

// OIDC configures sign-in with an OpenID Connect provider.
type OIDC struct {
	IssuerURL, ClientID, ClientSecret, RedirectURL string
	// UsernameClaim (default "email") and GroupsClaim (default "groups") map the ID token to
	// the Kubernetes user and groups, as kube-apiserver's --oidc-* flags do; UsernamePrefix
	// and GroupsPrefix are prepended.
	UsernameClaim, GroupsClaim, UsernamePrefix, GroupsPrefix string
	// HTTPClient reaches the provider (its CA); the default client when nil.
	HTTPClient *http.Client
}

// oidcFlow is a discovered provider.
type oidcFlow struct {
	cfg      OIDC
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCFlow(ctx context.Context, cfg OIDC) (*oidcFlow, error) {
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("discover OIDC issuer %s: %w", cfg.IssuerURL, err)
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "email"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	return &oidcFlow{cfg: cfg, verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups"}}}, nil
}

// oidcStateCookie carries the login's state and nonce.
const oidcStateCookie = "weir_oidc"

func (srv *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	state, nonce := randomToken(), randomToken()
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: state + "." + nonce, Path: "/", HttpOnly: true,
		Secure: srv.sessions.secure, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, srv.oidc.oauth.AuthCodeURL(state, oidc.Nonce(nonce)), http.StatusFound)
}

func (srv *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(oidcStateCookie)
	state, nonce, ok := "", "", false
	if err == nil {
		state, nonce, ok = strings.Cut(c.Value, ".")
	}
	if !ok || subtle.ConstantTimeCompare([]byte(state), []byte(r.URL.Query().Get("state"))) != 1 {
		writeError(w, http.StatusBadRequest, "the sign-in state does not match; sign in again")
		return
	}
	ctx := r.Context()
	if srv.oidc.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, srv.oidc.cfg.HTTPClient)
	}
	tok, err := srv.oidc.oauth.Exchange(ctx, r.URL.Query().Get("code"))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "the provider did not accept the sign-in")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := srv.oidc.verifier.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		writeError(w, http.StatusUnauthorized, "the ID token is not valid")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		writeError(w, http.StatusUnauthorized, "the ID token is not valid")
		return
	}
	user, _ := claims[srv.oidc.cfg.UsernameClaim].(string)
	if user == "" {
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("the ID token has no %q claim", srv.oidc.cfg.UsernameClaim))
		return
	}
	var groups []string
	if gs, ok := claims[srv.oidc.cfg.GroupsClaim].([]any); ok {
		for _, g := range gs {
			if s, ok := g.(string); ok {
				groups = append(groups, srv.oidc.cfg.GroupsPrefix+s)
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: "", Path: "/", MaxAge: -1})
	srv.sessions.start(w, Session{User: srv.oidc.cfg.UsernamePrefix + user, Groups: groups})
	http.Redirect(w, r, "/", http.StatusFound)
}

// localLogin opens a session for `weir ui`'s user with the one-time token of its URL.
func (srv *Server) localLogin(w http.ResponseWriter, r *http.Request) bool {
	tok := r.URL.Query().Get("token")
	if srv.opts.LocalToken == "" || tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(srv.opts.LocalToken)) != 1 {
		return false
	}
	srv.sessions.start(w, Session{User: srv.opts.LocalUser, Local: true})
	http.Redirect(w, r, "/", http.StatusFound)
	return true
}
