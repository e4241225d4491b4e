package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/event"
)

// standInRequest is a request a stand-in service received.
type standInRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	User, Password         string
	HasBasic               bool
}

// standIn is a real HTTP server standing in for a provider's service: it records every
// request and answers with the status and body it is told to.
type standIn struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []standInRequest
	status int
	answer string
}

func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		user, pass, ok := r.BasicAuth()
		s.mu.Lock()
		s.reqs = append(s.reqs, standInRequest{
			Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(),
			Body: body, User: user, Password: pass, HasBasic: ok,
		})
		status, answer := s.status, s.answer
		s.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

// answerWith sets the status and body of the next answers.
func (s *standIn) answerWith(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.answer = status, body
}

// requests returns what the stand-in received, and forgets it.
func (s *standIn) requests() []standInRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

// only returns the one request the stand-in received.
func (s *standIn) only(t *testing.T) standInRequest {
	t.Helper()
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("stand-in received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// chatTestTime is the time of the test events.
var chatTestTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// chatTestEvent is a Kustomization event of the given severity, with revision and summary
// metadata.
func chatTestEvent(severity string) event.Event {
	reason, msg := "ReconciliationSucceeded", "Reconciliation finished in 2s, next run in 10m"
	if severity == event.SeverityError {
		reason, msg = "HealthCheckFailed", "Deployment/apps/web: timeout waiting for rollout"
	}
	return event.Event{
		InvolvedObject: corev1.ObjectReference{
			Kind: "Kustomization", Namespace: "flux-system", Name: "apps", UID: "0cd9e5b2-1f4a-4d21-9e0e-7d0c58a1e2b3",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1",
		},
		Severity:            severity,
		Timestamp:           metav1.NewTime(chatTestTime),
		Message:             msg,
		Reason:              reason,
		Metadata:            map[string]string{"revision": "main@sha1:5ad5c0e1", "summary": "prod cluster"},
		ReportingController: "kustomize-controller",
		ReportingInstance:   "kustomize-controller-7c7b47f5f-8bhrp",
	}
}

// assertJSON fails unless got and want are the same JSON document.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		gi, _ := json.MarshalIndent(g, "", "  ")
		wi, _ := json.MarshalIndent(w, "", "  ")
		t.Fatalf("payload differs\ngot:\n%s\nwant:\n%s", gi, wi)
	}
}

// assertHeader fails unless the request has the header value.
func assertHeader(t *testing.T, r standInRequest, key, want string) {
	t.Helper()
	if got := r.Header.Get(key); got != want {
		t.Errorf("header %s = %q, want %q", key, got, want)
	}
}

// mustNotifier builds the Notifier of c.
func mustNotifier(t *testing.T, c Config) Notifier {
	t.Helper()
	n, err := New(c)
	if err != nil {
		t.Fatalf("New(%s): %v", c.Type, err)
	}
	return n
}

// assertDeliveryFailures checks, against the stand-in behind c, that a 500 answer is a
// retryable *HTTPError, a 401 is not retryable, and that no error names a secret (the token,
// the password, even when the service echoes them, or the extra secrets given: the address's
// path, query or user information, …).
func assertDeliveryFailures(t *testing.T, s *standIn, c Config, secrets ...string) {
	t.Helper()
	n := mustNotifier(t, c)
	for _, tc := range []struct {
		status    int
		retryable bool
	}{{http.StatusInternalServerError, true}, {http.StatusUnauthorized, false}} {
		// The answer echoes the credentials: the error quotes the answer, never them.
		s.answerWith(tc.status, `{"error":"rejected `+c.Token+` `+c.BasicPassword+`"}`)
		err := n.Post(t.Context(), chatTestEvent(event.SeverityError))
		var he *HTTPError
		if !errors.As(err, &he) {
			t.Fatalf("status %d: got %v, want an *HTTPError", tc.status, err)
		}
		if he.Status != tc.status || Retryable(err) != tc.retryable {
			t.Errorf("status %d: got status %d, retryable %v; want retryable %v", tc.status, he.Status, Retryable(err), tc.retryable)
		}
		msg := err.Error()
		for _, secret := range append([]string{c.Token, c.BasicPassword}, secrets...) {
			if secret != "" && strings.Contains(msg, secret) {
				t.Errorf("status %d: error %q reveals %q", tc.status, msg, secret)
			}
		}
	}
	s.answerWith(http.StatusOK, "")
	s.requests()
}

// assertConfigError checks that c is refused as a permanent configuration error.
func assertConfigError(t *testing.T, c Config) {
	t.Helper()
	_, err := New(c)
	if err == nil {
		t.Fatalf("New(%+v) succeeded, want an error", c)
	}
	if Retryable(err) {
		t.Errorf("configuration error %v is retryable", err)
	}
}

func TestTitleCase(t *testing.T) {
	for in, want := range map[string]string{
		"ReconciliationSucceeded": "Reconciliationsucceeded",
		"progressing":             "Progressing",
		"install failed":          "Install Failed",
		"UPGRADE_FAILED":          "Upgrade_failed",
		"":                        "",
		"it's ok":                 "It's Ok",
		"a.b a-b x:y a1b":         "A.b A-B X:y A1b",
		"ArtifactUpToDate":        "Artifactuptodate",
		"Ünïcode wörd":            "Ünïcode Wörd",
	} {
		if got := titleCase(in); got != want {
			t.Errorf("titleCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChatMarkdownPost(t *testing.T) {
	e := chatTestEvent(event.SeverityError)
	e.Metadata["change_request"] = "42"
	want := "## Flux Status\n\n⚠️ Kustomization/flux-system/apps\n\nDeployment/apps/web: timeout waiting for rollout\n\n" +
		"Metadata:\n* `revision`: main@sha1:5ad5c0e1\n* `summary`: prod cluster\n"
	if got := chatMarkdownPost(e); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// jsonUnmarshal decodes a captured body.
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestChatUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"spec", Config{Username: "spec-user"}, "spec-user"},
		{"secret basic credentials win", Config{Username: "spec-user", BasicUsername: "secret-user", BasicPassword: "p"}, "secret-user"},
		{"a username alone is no credentials", Config{Username: "spec-user", BasicUsername: "secret-user"}, "spec-user"},
	} {
		if got := chatUsername(tc.c); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestChatProviderTypesRegistered(t *testing.T) {
	types := Types()
	for _, typ := range []string{"slack", "discord", "msteams", "googlechat", "rocket", "matrix", "telegram", "lark", "webex",
		"sentry", "opsgenie", "pagerduty", "datadog", "alertmanager", "grafana", "generic", "generic-hmac", "zulip", "otel"} {
		if !slices.Contains(types, typ) {
			t.Errorf("provider type %q is not registered", typ)
		}
	}
}
