package gitserver

import (
	"crypto/subtle"
	"crypto/tls"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
)

// HTTPOptions configures a smart-HTTP server. The zero value serves every
// repository anonymously over plain HTTP.
type HTTPOptions struct {
	// Username and Password, when Username is set, require HTTP basic auth.
	Username, Password string
	// BearerToken, when set, requires "Authorization: Bearer <token>".
	// It may be combined with basic auth: either is then accepted.
	BearerToken string
	// TLS serves HTTPS with a certificate from a private CA (HTTPServer.CAPEM).
	TLS bool
	// ClientCert requires a client certificate issued by the private CA
	// (HTTPServer.ClientCertPEM and ClientKeyPEM). It implies TLS.
	ClientCert bool
	// DNSName, with TLS, is certified by the server certificate besides
	// 127.0.0.1: a name that only a test's proxy resolves, so that a client
	// can reach the server through that proxy and no other way.
	DNSName string
	// Authorize, when set, decides for every request that static credentials do not admit,
	// from its basic auth (ok false without it): a stand-in's tokens that change at run time
	// (GitHub installation tokens) are checked this way.
	Authorize func(username, password string, ok bool) bool
}

// HTTPServer is a running `git http-backend` server.
type HTTPServer struct {
	// URL is the base URL, for example "https://127.0.0.1:41234".
	URL string
	// CAPEM is the PEM certificate of the private CA when serving TLS.
	CAPEM []byte
	// ClientCertPEM and ClientKeyPEM are a client certificate and its key
	// issued by the private CA when serving TLS.
	ClientCertPEM, ClientKeyPEM []byte
	// TLSCertificate is the server's certificate when serving TLS, for
	// another test server that stands in for the same host (a GitHub
	// Enterprise API beside its Git service).
	TLSCertificate tls.Certificate

	requests, uploadPacks atomic.Int64
}

// RepoURL returns the clone URL of the repository called name.
func (s *HTTPServer) RepoURL(name string) string {
	return s.URL + "/" + strings.TrimPrefix(name, "/")
}

// Requests returns how many HTTP requests the server has received, including
// those rejected by authentication.
func (s *HTTPServer) Requests() int64 { return s.requests.Load() }

// UploadPacks returns how many fetches the server has served: admitted POSTs to
// git-upload-pack, which send objects. Reference listings (ls-remote, and the
// first request of every fetch) are not counted.
func (s *HTTPServer) UploadPacks() int64 { return s.uploadPacks.Load() }

// ServeHTTP starts a smart-HTTP server for the Root and stops it when the
// test ends.
func (r *Root) ServeHTTP(opts HTTPOptions) *HTTPServer {
	t := r.t
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git CLI not found: install git (the tests need a real Git server)")
	}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + r.Dir,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"HOME=" + r.home,
			// http-backend only accepts pushes from an authenticated user.
			"REMOTE_USER=weir",
		},
		InheritEnv: []string{"PATH"},
	}
	s := &HTTPServer{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.requests.Add(1)
		if !authorized(req, opts) {
			if opts.Username != "" || opts.Authorize != nil {
				w.Header().Set("WWW-Authenticate", `Basic realm="weir"`)
			}
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/git-upload-pack") {
			s.uploadPacks.Add(1)
		}
		backend.ServeHTTP(w, req)
	})
	srv := httptest.NewUnstartedServer(handler)
	if opts.TLS || opts.ClientCert {
		var names []string
		if opts.DNSName != "" {
			names = []string{opts.DNSName}
		}
		p := newPKI(t, names...)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
		if opts.ClientCert {
			srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
			srv.TLS.ClientCAs = p.pool
		}
		srv.StartTLS()
		s.CAPEM, s.ClientCertPEM, s.ClientKeyPEM, s.TLSCertificate = p.caPEM, p.clientCert, p.clientKey, p.server
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func authorized(req *http.Request, opts HTTPOptions) bool {
	if opts.Username == "" && opts.BearerToken == "" && opts.Authorize == nil {
		return true
	}
	if opts.Authorize != nil {
		if u, p, ok := req.BasicAuth(); opts.Authorize(u, p, ok) {
			return true
		}
	}
	if opts.Username != "" {
		if u, p, ok := req.BasicAuth(); ok && equal(u, opts.Username) && equal(p, opts.Password) {
			return true
		}
	}
	if opts.BearerToken != "" {
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok && equal(tok, opts.BearerToken) {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
