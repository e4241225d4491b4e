package githubapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/weirgitops/weir/internal/testenv/githubapp"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// PathPrefix is the API root under the server's URL, as on GitHub Enterprise Server, so that
// go-github's enterprise URLs reach it.
const PathPrefix = "/api/v3"

// Options configures the stand-in.
type Options struct {
	// Tokens are the static tokens (personal access tokens) and the user each acts as.
	Tokens map[string]string
	// Organizations are the organisations that exist.
	Organizations []string
	// App, when AppID is set, is a GitHub App installed in the given accounts; its endpoints
	// are served by an embedded githubapp stand-in and its installation tokens are accepted.
	App githubapp.Options
}

// Server is a running stand-in.
type Server struct {
	// URL is the server's base URL; the API root is URL + PathPrefix.
	URL string
	// Git serves the repositories over smart HTTP; GitSSH over SSH.
	Git    *gitserver.HTTPServer
	GitSSH *gitserver.SSHServer
	// App is the embedded GitHub App stand-in, nil without Options.App.AppID.
	App *githubapp.Server

	t    testing.TB
	opts Options
	root *gitserver.Root

	mu       sync.Mutex
	repos    map[string]*repo // by lower-case full name
	nextID   int64
	calls    []string
	throttle throttle
	down     bool
}

type throttle struct {
	n          int
	status     int
	retryAfter time.Duration
	// primary plays the primary rate limit: 403, X-RateLimit-Remaining 0, reset after
	// retryAfter, and no Retry-After.
	primary bool
}

// repo is one repository and what the API knows of it.
type repo struct {
	ID            int64
	Owner, Name   string
	Private       bool
	Description   string
	Topics        []string
	IsTemplate    bool
	DefaultBranch string
	Keys          []deployKey
	git           *gitserver.Repo
}

type deployKey struct {
	ID       int64
	Title    string
	Key      string
	ReadOnly bool
	parsed   ssh.PublicKey
}

// Start starts the stand-in, its Git servers and, with an App, the App's endpoints; all stop
// when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: opts, root: gitserver.NewRoot(t), repos: map[string]*repo{}, nextID: 1000}
	if opts.App.AppID != 0 {
		s.App = githubapp.New(t, opts.App)
	}
	s.Git = s.root.ServeHTTP(gitserver.HTTPOptions{Authorize: func(_, password string, ok bool) bool {
		return ok && s.validToken(password)
	}})
	s.GitSSH = s.root.ServeSSHAuthorized(s.deployKeyAllowed)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	if s.App != nil {
		s.App.URL = srv.URL
	}
	return s
}

// APIURL is the API root, as in a stack's repository.apiURL or `--hostname`.
func (s *Server) APIURL() string { return s.URL + PathPrefix + "/" }

// Throttle makes the next n requests fail with status (403 or 429) and a Retry-After of
// retryAfter, as GitHub's secondary rate limit does.
func (s *Server) Throttle(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = throttle{n: n, status: status, retryAfter: retryAfter}
}

// ThrottlePrimary makes the next n requests fail as GitHub's exhausted primary rate limit does:
// 403 with X-RateLimit-Remaining 0 and X-RateLimit-Reset reset from now.
func (s *Server) ThrottlePrimary(n int, reset time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = throttle{n: n, status: http.StatusForbidden, retryAfter: reset, primary: true}
}

// SetDown makes the API unreachable (every connection closed without a response) or
// reachable again. The Git servers stay up.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls returns the state-changing requests served successfully, as "METHOD /path" without
// the API prefix, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// AddRepo creates a repository directly (not through the API), with files committed on main;
// template marks it as a template repository.
func (s *Server) AddRepo(owner, name string, private, template bool, files map[string]string) *gitserver.Repo {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.newRepo(owner, name, private)
	r.IsTemplate = template
	if len(files) > 0 {
		r.git.Commit("main", "initial commit", files)
	}
	return r.git
}

// Repo returns a repository's Git handle, nil when it does not exist.
func (s *Server) Repo(owner, name string) *gitserver.Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[key(owner, name)]; r != nil {
		return r.git
	}
	return nil
}

// RepoState is what the API holds of a repository, for tests' assertions.
type RepoState struct {
	Private     bool
	Description string
	Topics      []string
	DeployKeys  []string
	// WritableKeys are the titles of the deploy keys with write access.
	WritableKeys []string
}

// State returns a repository's state and whether it exists.
func (s *Server) State(owner, name string) (RepoState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[key(owner, name)]
	if r == nil {
		return RepoState{}, false
	}
	st := RepoState{Private: r.Private, Description: r.Description, Topics: slices.Clone(r.Topics)}
	for _, k := range r.Keys {
		st.DeployKeys = append(st.DeployKeys, k.Title)
		if !k.ReadOnly {
			st.WritableKeys = append(st.WritableKeys, k.Title)
		}
	}
	return st, true
}

func key(owner, name string) string { return strings.ToLower(owner + "/" + name) }

// newRepo creates a bare repository whose HEAD is main. s.mu is held.
func (s *Server) newRepo(owner, name string, private bool) *repo {
	s.nextID++
	g := s.root.NewRepo(owner + "/" + name + ".git")
	g.Git("symbolic-ref", "HEAD", "refs/heads/main")
	r := &repo{ID: s.nextID, Owner: owner, Name: name, Private: private, DefaultBranch: "main", git: g}
	s.repos[key(owner, name)] = r
	return r
}

// validToken reports whether tok is a static token or a minted installation token.
func (s *Server) validToken(tok string) bool {
	if _, ok := s.opts.Tokens[tok]; ok && tok != "" {
		return true
	}
	if s.App != nil {
		_, ok := s.App.ValidToken(tok)
		return ok
	}
	return false
}

// deployKeyAllowed admits an SSH client key that is a deploy key of some repository.
func (s *Server) deployKeyAllowed(k ssh.PublicKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.repos {
		for _, d := range r.Keys {
			if d.parsed != nil && string(d.parsed.Marshal()) == string(k.Marshal()) {
				return true
			}
		}
	}
	return false
}

// ServeHTTP implements the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	th := s.throttle
	if th.n > 0 && !down {
		s.throttle.n--
	}
	s.mu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, "unavailable", http.StatusBadGateway)
		return
	}
	reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Reset", reset)
	w.Header().Set("X-RateLimit-Resource", "core")
	if th.n > 0 && th.primary {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(th.retryAfter).Unix(), 10))
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "API rate limit exceeded for user ID 1.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
		})
		return
	}
	if th.n > 0 {
		w.Header().Set("X-RateLimit-Remaining", "4000")
		w.Header().Set("Retry-After", strconv.Itoa(int(th.retryAfter.Seconds())))
		writeJSON(w, th.status, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
		return
	}
	w.Header().Set("X-RateLimit-Remaining", "4999")
	path, ok := strings.CutPrefix(r.URL.Path, PathPrefix+"/")
	if !ok {
		notFound(w)
		return
	}
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if s.App != nil && isAppPath(parts) {
		s.App.ServeHTTP(w, r)
		return
	}
	user, ok := s.authenticate(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	status := s.route(w, r, parts, user)
	if r.Method != http.MethodGet && status < 300 {
		s.mu.Lock()
		s.calls = append(s.calls, r.Method+" /"+strings.Join(parts, "/"))
		s.mu.Unlock()
	}
}

// isAppPath reports whether the request is one of the App's own (JWT-authenticated) endpoints.
func isAppPath(parts []string) bool {
	switch {
	case len(parts) >= 1 && parts[0] == "app":
		return true
	case len(parts) == 3 && (parts[0] == "orgs" || parts[0] == "users") && parts[2] == "installation":
		return true
	}
	return false
}

// authenticate returns the acting account of the request's token: its user for a static token,
// the installation's account for an installation token.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "token ")
	}
	if !ok || tok == "" {
		return "", false
	}
	if u, ok := s.opts.Tokens[tok]; ok {
		return u, true
	}
	if s.App != nil {
		if id, ok := s.App.ValidToken(tok); ok {
			for _, m := range []map[string]int64{s.opts.App.Organizations, s.opts.App.Users} {
				for name, v := range m {
					if v == id {
						return name, true
					}
				}
			}
		}
	}
	return "", false
}

func (s *Server) orgExists(name string) bool {
	return slices.ContainsFunc(s.opts.Organizations, func(o string) bool { return strings.EqualFold(o, name) })
}

func (s *Server) userExists(name string) bool {
	for _, u := range s.opts.Tokens {
		if strings.EqualFold(u, name) {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) int {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
	return http.StatusNotFound
}

func unprocessable(w http.ResponseWriter, message string, errs ...map[string]string) int {
	body := map[string]any{"message": message, "documentation_url": "https://docs.github.com/rest"}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, http.StatusUnprocessableEntity, body)
	return http.StatusUnprocessableEntity
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}
