// Package ociregistry runs go-containerregistry's OCI registry in-process for tests: plain
// HTTP, TLS with a private CA, optionally behind basic auth, counting the requests it serves.
package ociregistry

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Options configure a Registry.
type Options struct {
	// TLS serves HTTPS with a certificate of a private CA (CAPEM).
	TLS bool
	// Username and Password, when set, are required (basic auth).
	Username, Password string
}

// Registry is a running registry.
type Registry struct {
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	requests map[string]int
	down     bool
	hook     func(w http.ResponseWriter, r *http.Request) bool
}

// New starts a registry that stops when the test ends.
func New(t testing.TB, opts Options) *Registry {
	t.Helper()
	r := &Registry{opts: opts, requests: map[string]int{}}
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(nopLogger()))
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests[req.Method+" "+kind(req.URL.Path)]++
		down, hook := r.down, r.hook
		r.mu.Unlock()
		if down {
			http.Error(w, "registry unavailable", http.StatusServiceUnavailable)
			return
		}
		if opts.Username != "" && !r.authorized(req) {
			w.Header().Set("WWW-Authenticate", `Basic realm="weir-test"`)
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": "authentication required"}}})
			return
		}
		if hook != nil && hook(w, req) {
			return
		}
		inner.ServeHTTP(w, req)
	})
	if opts.TLS {
		r.srv = httptest.NewTLSServer(h)
	} else {
		r.srv = httptest.NewServer(h)
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *Registry) authorized(req *http.Request) bool {
	user, pass, ok := req.BasicAuth()
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(r.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(r.opts.Password))
	return u&p == 1
}

// kind classifies a registry path: "manifests", "blobs", "tags", "ping" or "other".
func kind(p string) string {
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case strings.Contains(p, "/manifests/"):
		return "manifests"
	case strings.Contains(p, "/blobs/"):
		return "blobs"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags"
	}
	return "other"
}

// Host is host:port of the registry.
func (r *Registry) Host() string {
	return strings.TrimPrefix(strings.TrimPrefix(r.srv.URL, "http://"), "https://")
}

// URL is oci://host:port/repo.
func (r *Registry) URL(repo string) string { return "oci://" + r.Host() + "/" + repo }

// CAPEM is the PEM certificate clients must trust for a TLS registry.
func (r *Registry) CAPEM() []byte {
	if r.srv.TLS == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
}

// DockerConfig is a Docker config JSON with the registry's credentials.
func (r *Registry) DockerConfig() []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(r.opts.Username + ":" + r.opts.Password))
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{r.Host(): map[string]string{"auth": auth}}})
	return b
}

// Requests returns how many requests of method and kind ("manifests", "blobs", "tags",
// "ping") the registry served.
func (r *Registry) Requests(method, kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[method+" "+kind]
}

// SetDown makes every request answer 503 (true) or serves again (false).
func (r *Registry) SetDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// SetHook runs h before the registry for each authorized request; h returning true has
// answered it.
func (r *Registry) SetHook(h func(w http.ResponseWriter, req *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }
