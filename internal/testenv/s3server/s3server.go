// Package s3server runs an S3-compatible server (gofakes3, in memory) in-process for tests.
// With an access key set, requests must be signed with it: gofakes3 does not check
// signatures, so the server checks that the Authorization header names the access key, which
// is what tells a client with the right key from one with a wrong or no key.
package s3server

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Options configure a Server.
type Options struct {
	// AccessKey, when set, is required in every request's signature.
	AccessKey string
	// TLS serves HTTPS with httptest's certificate.
	TLS bool
}

// Server is a running S3-compatible server.
type Server struct {
	srv     *httptest.Server
	backend *s3mem.Backend

	mu   sync.Mutex
	gets int
}

// New starts a server that stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{backend: s3mem.New()}
	faker := gofakes3.New(s.backend).Server()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.AccessKey != "" && !strings.Contains(r.Header.Get("Authorization"), "Credential="+opts.AccessKey+"/") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The access key you provided does not exist.</Message></Error>`))
			return
		}
		s.mu.Lock()
		if r.Method == http.MethodGet && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 {
			s.gets++ // GET /bucket/key: an object download
		}
		s.mu.Unlock()
		faker.ServeHTTP(w, r)
	})
	if opts.TLS {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint is host:port, as a Bucket's spec.endpoint takes it.
func (s *Server) Endpoint() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.srv.URL, "http://"), "https://")
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
}

// Put writes an object.
func (s *Server) Put(t testing.TB, bucket, key, content string) {
	t.Helper()
	meta := map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat), "Content-Type": "application/octet-stream"}
	if _, err := s.backend.PutObject(bucket, key, meta, bytes.NewReader([]byte(content)), int64(len(content)), nil); err != nil {
		t.Fatal(err)
	}
}

// Delete removes an object.
func (s *Server) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.backend.DeleteObject(bucket, key); err != nil {
		t.Fatal(err)
	}
}

// ObjectGets counts the object downloads served.
func (s *Server) ObjectGets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

// CAPEM is the PEM certificate clients must trust for a TLS server.
func (s *Server) CAPEM() []byte {
	if s.srv.TLS == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}
