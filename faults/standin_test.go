//go:build faults

package faults_test

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The outage cases' stand-ins: a TCP proxy that can cut a server off, and a Git front that
// turns a good Git server slow or hostile.

// tcpProxy forwards the TCP connections it accepts on a fixed address to target. cut closes
// every connection and refuses new ones (the listener is closed: connection refused) until
// restore.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	// accepted counts the connections accepted, for a case to see traffic.
	accepted atomic.Int64
}

// newTCPProxy starts a proxy to target; it stops when the test ends.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

// URL is the proxy's address as a URL of scheme.
func (p *tcpProxy) URL(scheme string) string { return scheme + "://" + p.addr }

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// cut closes the listener and every connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	p.t.Helper()
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("listen again on %s: %v", p.addr, err)
		}
		runtimeGosched()
	}
	p.serve(ln)
}

// runtimeGosched lets the port's last connections finish closing before listening again.
func runtimeGosched() {
	timer := time.NewTimer(50 * time.Millisecond)
	<-timer.C
}

// frontMode is what a gitFront does with requests.
type frontMode int32

const (
	// pass proxies to the Git server.
	pass frontMode = iota
	// tarpit answers 200 and then trickles one byte a second, for ever: "aaaa" is the length
	// of a pkt-line whose 43,686 bytes never come.
	tarpit
	// garbage answers every request with random bytes that claim to be Git's protocol.
	garbage
	// truncate proxies, but cuts the packfile of every fetch in the middle.
	truncate
)

// gitFront is an HTTP server in front of a smart-HTTP Git server that can turn slow or
// hostile on demand.
type gitFront struct {
	URL  string
	mode atomic.Int32
	// active counts the requests being answered (a tarpit holds them); requests counts them
	// all.
	active, requests atomic.Int64
}

// newGitFront starts a front for the Git server at target (a base URL).
func newGitFront(t *testing.T, target string) *gitFront {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &gitFront{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if frontMode(f.mode.Load()) == truncate && strings.HasSuffix(resp.Request.URL.Path, "/git-upload-pack") {
			resp.Body = &cutReader{r: resp.Body, left: 256}
			resp.ContentLength = -1
			resp.Header.Del("Content-Length")
		}
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.active.Add(1)
		defer f.active.Add(-1)
		switch frontMode(f.mode.Load()) {
		case tarpit:
			rw.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			rw.WriteHeader(http.StatusOK)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
					if _, err := rw.Write([]byte("a")); err != nil {
						return
					}
					rw.(http.Flusher).Flush()
				}
			}
		case garbage:
			service := r.URL.Query().Get("service")
			if service == "" {
				service = "git-upload-pack"
			}
			rw.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
			b := make([]byte, 64<<10)
			_, _ = rand.Read(b)
			copy(b, "001e# service=git-upload-pack\n0000ffff")
			_, _ = rw.Write(b)
		default:
			rp.ServeHTTP(rw, r)
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	})
	f.URL = "http://" + ln.Addr().String()
	return f
}

func (f *gitFront) set(m frontMode) { f.mode.Store(int32(m)) }

// cutReader ends a body after left bytes, cleanly: the HTTP answer is well-formed and its
// packfile is cut short.
type cutReader struct {
	r    io.ReadCloser
	left int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }
