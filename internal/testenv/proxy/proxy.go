package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialTimeout bounds the proxy's connection to a target.
const dialTimeout = 10 * time.Second

// Options configures a proxy. The zero value is an open proxy that resolves
// names the usual way.
type Options struct {
	// Username and Password, when Username is set, are required as basic
	// credentials in Proxy-Authorization.
	Username, Password string
	// Hosts maps host names to the addresses the proxy dials instead, for
	// example "git.weir.test" to "127.0.0.1".
	Hosts map[string]string
}

// Server is a running proxy.
type Server struct {
	// URL is the proxy's address, for example "http://127.0.0.1:41234".
	URL string

	opts  Options
	mu    sync.Mutex
	seen  []string
	conns map[net.Conn]struct{}
}

// Start starts a proxy and stops it, with every open tunnel, when the test
// ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, conns: map[net.Conn]struct{}{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			_ = c.Close()
		}
	})
	s.URL = srv.URL
	return s
}

// Targets returns the "host:port" of every request the proxy accepted, in
// order, as the client named them.
func (s *Server) Targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// Served reports whether the proxy accepted a request for hostport.
func (s *Server) Served(hostport string) bool {
	for _, t := range s.Targets() {
		if t == hostport {
			return true
		}
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		s.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	s.forward(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Username == "" {
		return true
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.opts.Username+":"+s.opts.Password))
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Proxy-Authorization")), []byte(want)) == 1
}

// record notes a target and returns the address to dial for it.
func (s *Server) record(hostport string) string {
	s.mu.Lock()
	s.seen = append(s.seen, hostport)
	s.mu.Unlock()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if addr, ok := s.opts.Hosts[strings.ToLower(host)]; ok {
		return net.JoinHostPort(addr, port)
	}
	return hostport
}

func (s *Server) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	return d.DialContext(ctx, "tcp", addr)
}

// tunnel serves CONNECT: it dials the target and copies bytes both ways.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	target, err := s.dial(r.Context(), s.record(r.Host))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = target.Close()
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	client, buf, err := hj.Hijack()
	if err != nil {
		_ = target.Close()
		return
	}
	s.track(client, target)
	go func() {
		defer s.untrack(client, target)
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(target, buf); done <- struct{}{} }()
		go func() { _, _ = io.Copy(client, target); done <- struct{}{} }()
		<-done
	}()
}

func (s *Server) track(conns ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range conns {
		s.conns[c] = struct{}{}
	}
}

func (s *Server) untrack(conns ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(s.conns, c)
	}
}

// forward serves a plain-HTTP proxy request.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	hostport := r.URL.Host
	if r.URL.Port() == "" {
		hostport = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	addr := s.record(hostport)
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return s.dial(ctx, addr) },
	}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
