package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzSessionCookie feeds arbitrary cookies to the session reader: it never panics, and a
// cookie this server did not sign is never a session.
func FuzzSessionCookie(f *testing.F) {
	ss, err := newSessions(false)
	if err != nil {
		f.Fatal(err)
	}
	w := httptest.NewRecorder()
	ss.start(w, Session{User: "alice", Groups: []string{"dev"}})
	valid := strings.SplitN(strings.TrimPrefix(w.Header().Get("Set-Cookie"), sessionCookie+"="), ";", 2)[0]
	f.Add(valid)
	f.Add("")
	f.Add(".")
	f.Add("eyJ1c2VyIjoiYWRtaW4ifQ.AAAA")
	f.Add(valid[:len(valid)/2])
	other, err := newSessions(false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
		_ = ss.read(r)
		// Another server's key never accepts this server's (or any) cookie.
		if s := other.read(r); s != nil {
			t.Fatalf("a cookie signed with another key was accepted: %+v", s)
		}
	})
}

// FuzzRevisionHas checks that matching revisions never panics on any input.
func FuzzRevisionHas(f *testing.F) {
	f.Add("main@sha1:0123456789abcdef", "0123456")
	f.Add("1.0.0@sha256:abc", "sha256:abc")
	f.Add("", "")
	f.Fuzz(func(_ *testing.T, revision, rev string) {
		_ = revisionHas(revision, rev)
	})
}
