package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/event"
)

// The commit every Git provider test reports on.
const (
	forgeSHA         = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738"
	forgeRevision    = "main@sha1:" + forgeSHA
	forgeProviderUID = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	forgeToken       = "s3cr3t-forge-token"
	// forgeStatusKey is Flux's default status key of forgeEvent's object for forgeProviderUID.
	forgeStatusKey = "kustomization/webapp/0c9c2e41"
)

// forgeEvent is an event about the Kustomization apps/webapp at forgeRevision.
func forgeEvent(severity, reason string) event.Event {
	return event.Event{
		InvolvedObject: corev1.ObjectReference{
			Kind: "Kustomization", Namespace: "apps", Name: "webapp",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", UID: "7d0cdc51-ddcf-4743-b223-83ca5c699632",
		},
		Severity:            severity,
		Timestamp:           metav1.NewTime(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)),
		Message:             "Applied revision: " + forgeRevision,
		Reason:              reason,
		Metadata:            map[string]string{"revision": forgeRevision},
		ReportingController: "kustomize-controller",
	}
}

// forgeRequest is a request a forgeFake received.
type forgeRequest struct {
	Method string
	// Path is the escaped path, as sent.
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// forgeFake is a real HTTP server standing in for a forge's API: it answers the routes a test
// sets and records every request.
type forgeFake struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []forgeRequest
	routes map[string]func(forgeRequest) (int, any)
}

func newForgeFake(t *testing.T, useTLS bool) *forgeFake {
	t.Helper()
	f := &forgeFake{t: t, routes: map[string]func(forgeRequest) (int, any){}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := forgeRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		fn := f.routes[r.Method+" "+req.Path]
		f.mu.Unlock()
		if fn == nil {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		status, out := fn(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		switch v := out.(type) {
		case nil:
		case string:
			_, _ = io.WriteString(w, v)
		default:
			_ = json.NewEncoder(w).Encode(v)
		}
	})
	if useTLS {
		f.srv = httptest.NewTLSServer(h)
	} else {
		f.srv = httptest.NewServer(h)
	}
	t.Cleanup(f.srv.Close)
	return f
}

// on answers method path (the escaped path) with fn.
func (f *forgeFake) on(method, path string, fn func(forgeRequest) (int, any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[method+" "+path] = fn
}

// reply answers method path with a fixed status and body.
func (f *forgeFake) reply(method, path string, status int, body any) {
	f.on(method, path, func(forgeRequest) (int, any) { return status, body })
}

// requests returns the requests received so far and forgets them.
func (f *forgeFake) requests() []forgeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// calls lists the requests as "METHOD path[?query]".
func forgeCalls(reqs []forgeRequest) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		s := r.Method + " " + r.Path
		if r.Query != "" {
			s += "?" + r.Query
		}
		out = append(out, s)
	}
	return out
}

// assertForgeCalls checks the requests, in order.
func assertForgeCalls(t *testing.T, reqs []forgeRequest, want ...string) {
	t.Helper()
	if got := forgeCalls(reqs); (len(got) != 0 || len(want) != 0) && !reflect.DeepEqual(got, want) {
		t.Fatalf("requests:\n got  %q\n want %q", got, want)
	}
}

// assertForgeHeader checks one header of a request.
func assertForgeHeader(t *testing.T, r forgeRequest, name, want string) {
	t.Helper()
	if got := r.Header.Get(name); got != want {
		t.Fatalf("%s %s: header %s = %q, want %q", r.Method, r.Path, name, got, want)
	}
}

// newOrgRepoFake is a forge stand-in (GitHub Enterprise, Gitea) for the repository org/repo,
// and the Config of a typ Provider pointing at it.
func newOrgRepoFake(t *testing.T, typ string) (*forgeFake, Config) {
	t.Helper()
	f := newForgeFake(t, false)
	return f, Config{
		Type: typ, Address: f.srv.URL + "/org/repo.git", Token: forgeToken,
		ProviderUID: forgeProviderUID, Timeout: 5 * time.Second,
	}
}

// assertForgeFailures checks that a 500 answer is Retryable and a 401 is not, and that no
// error quotes a secret. answer makes every route of the fake answer the status.
func assertForgeFailures(t *testing.T, n Notifier, e event.Event, answer func(status int), secrets ...string) {
	t.Helper()
	for _, tc := range []struct {
		status    int
		retryable bool
	}{{http.StatusInternalServerError, true}, {http.StatusUnauthorized, false}, {http.StatusTooManyRequests, true}} {
		answer(tc.status)
		err := n.Post(t.Context(), e)
		if err == nil {
			t.Fatalf("answer %d: Post returned no error", tc.status)
		}
		if got := Retryable(err); got != tc.retryable {
			t.Errorf("answer %d: Retryable(%v) = %v, want %v", tc.status, err, got, tc.retryable)
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != tc.status {
			t.Errorf("answer %d: error %v is not an HTTPError with that status", tc.status, err)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("answer %d: error %q contains a secret", tc.status, err)
			}
		}
	}
}

func TestCommitHash(t *testing.T) {
	for _, tc := range []struct {
		name, rev, want string
		fail            bool
	}{
		{name: "branch", rev: "main@sha1:" + forgeSHA, want: forgeSHA},
		{name: "branch with slash", rev: "feature/x@sha1:" + forgeSHA, want: forgeSHA},
		{name: "digest only", rev: "sha1:" + forgeSHA, want: forgeSHA},
		{name: "legacy", rev: "main/" + forgeSHA, want: forgeSHA},
		{name: "legacy nested branch", rev: "feature/branch/" + forgeSHA, want: forgeSHA},
		{name: "bare", rev: forgeSHA, want: forgeSHA},
		{name: "tag", rev: "v1.0.0@sha1:" + forgeSHA, want: forgeSHA},
		{name: "short", rev: "main@sha1:5394cb7", fail: true},
		{name: "oci digest", rev: "latest@sha256:" + strings.Repeat("a", 64), fail: true},
		{name: "not hex", rev: "main@sha1:" + strings.Repeat("z", 40), fail: true},
		{name: "empty", rev: "", fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := commitHash(tc.rev)
			if tc.fail {
				if err == nil || Retryable(err) {
					t.Fatalf("commitHash(%q) = %q, %v; want a permanent error", tc.rev, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("commitHash(%q) = %q, %v; want %q", tc.rev, got, err, tc.want)
			}
		})
	}
}

func TestParseGitRepoAddress(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		want       gitRepo
		fail       bool
	}{
		{name: "github", addr: "https://github.com/org/repo", want: gitRepo{base: "https://github.com", host: "github.com", path: "org/repo"}},
		{name: "git suffix", addr: "https://github.com/org/repo.git", want: gitRepo{base: "https://github.com", host: "github.com", path: "org/repo"}},
		{name: "port and http", addr: "http://127.0.0.1:3000/org/repo", want: gitRepo{base: "http://127.0.0.1:3000", host: "127.0.0.1:3000", path: "org/repo"}},
		{name: "credentials dropped", addr: "https://user:pass@gitlab.example.com/group/sub/project.git", want: gitRepo{base: "https://gitlab.example.com", host: "gitlab.example.com", path: "group/sub/project"}},
		{name: "ssh url", addr: "ssh://git@github.com/org/repo.git", want: gitRepo{base: "https://github.com", host: "github.com", path: "org/repo"}},
		{name: "scp-like", addr: "git@github.com:org/repo.git", want: gitRepo{base: "https://github.com", host: "github.com", path: "org/repo"}},
		{name: "azure devops", addr: "https://dev.azure.com/org/proj/_git/repo", want: gitRepo{base: "https://dev.azure.com", host: "dev.azure.com", path: "org/proj/_git/repo"}},
		{name: "empty", addr: "", fail: true},
		{name: "no host", addr: "https:///org/repo", fail: true},
		{name: "ftp", addr: "ftp://example.com/org/repo", fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGitRepoAddress(tc.addr)
			if tc.fail {
				if err == nil {
					t.Fatalf("parseGitRepoAddress(%q) = %+v, want an error", tc.addr, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseGitRepoAddress(%q) = %+v, %v; want %+v", tc.addr, got, err, tc.want)
			}
		})
	}
}

func TestCommitStatusNaming(t *testing.T) {
	e := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	if got := commitStatusName(e); got != "kustomization/webapp" {
		t.Errorf("name = %q", got)
	}
	if got := commitStatusDescription(e); got != "reconciliation succeeded" {
		t.Errorf("description = %q", got)
	}
	if got := defaultCommitStatusKey(forgeProviderUID, e); got != forgeStatusKey {
		t.Errorf("default key = %q, want %q", got, forgeStatusKey)
	}
	if got := sha1Hex(forgeStatusKey); len(got) != 40 {
		t.Errorf("sha1Hex = %q", got)
	}
	keyer, err := commitStatusKeyer(Config{CommitStatus: "custom/key", ProviderUID: forgeProviderUID})
	if err != nil || keyer(e) != "custom/key" {
		t.Errorf("the Alert's commit status does not win: %v", err)
	}
	if _, err := commitStatusKeyer(Config{}); err == nil || Retryable(err) {
		t.Errorf("no UID and no commit status: %v, want a permanent error", err)
	}
}

func TestCamelCaseWords(t *testing.T) {
	for in, want := range map[string][]string{
		"ReconciliationSucceeded": {"Reconciliation", "Succeeded"},
		"HealthCheckFailed":       {"Health", "Check", "Failed"},
		"PDFLoader":               {"PDF", "Loader"},
		"ArtifactFailed2":         {"Artifact", "Failed", "2"},
		"Progressing":             {"Progressing"},
		"lowerCase":               {"lower", "Case"},
		"Version2Upgrade":         {"Version", "2", "Upgrade"},
		"install-failed":          {"install", "-", "failed"},
		"":                        {},
		"\xff\xfe":                {"\xff\xfe"},
	} {
		if got := camelCaseWords(in); !reflect.DeepEqual(got, want) {
			t.Errorf("camelCaseWords(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChangeRequestCommentBody(t *testing.T) {
	c := changeRequestComment{providerUID: forgeProviderUID, keyPrefix: pullRequestCommentKeyPrefix}
	e := forgeEvent(event.SeverityError, "HealthCheckFailed")
	e.Message = "health check failed"
	e.Metadata = map[string]string{"revision": forgeRevision, "change_request": "42", "summary": "prod"}
	want := "<!-- flux-pr-comment-key:" + forgeProviderUID + "/Kustomization/apps/webapp -->\n\n" +
		"## Flux Status\n\n⚠️ Kustomization/apps/webapp\n\nhealth check failed\n\nMetadata:\n" +
		"* `revision`: " + forgeRevision + "\n* `summary`: prod\n"
	if got := c.body(e); got != want {
		t.Fatalf("body:\n got  %q\n want %q", got, want)
	}
	e.Severity = event.SeverityInfo
	if got := c.body(e); !strings.Contains(got, "\n\nℹ️ Kustomization/apps/webapp\n\n") {
		t.Fatalf("info body %q has no info emoji", got)
	}
	for in, want := range map[string]int64{"42": 42, "": 0} {
		e.Metadata["change_request"] = in
		n, ok, err := changeRequestNumber(e)
		if err != nil || n != want || ok != (want != 0) {
			t.Errorf("changeRequestNumber(%q) = %d, %v, %v", in, n, ok, err)
		}
	}
	e.Metadata["change_request"] = "abc"
	if _, _, err := changeRequestNumber(e); err == nil || Retryable(err) {
		t.Errorf("invalid change request: %v, want a permanent error", err)
	}
}

// forgeSkips checks that n sends nothing for the events a commit-status provider ignores.
func forgeSkips(t *testing.T, f *forgeFake, n Notifier, progressing bool) {
	t.Helper()
	noRevision := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	noRevision.Metadata = map[string]string{"summary": "no revision"}
	cases := map[string]event.Event{"no revision": noRevision}
	if progressing {
		cases["progressing"] = forgeEvent(event.SeverityInfo, "Progressing")
	}
	for name, e := range cases {
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatalf("%s: Post: %v", name, err)
		}
		if reqs := f.requests(); len(reqs) != 0 {
			t.Fatalf("%s: sent %q, want nothing", name, forgeCalls(reqs))
		}
	}
	bad := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	bad.Metadata["revision"] = "main@sha1:abc"
	if err := n.Post(t.Context(), bad); err == nil || Retryable(err) {
		t.Fatalf("bad revision: %v, want a permanent error", err)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Fatalf("bad revision: sent %q, want nothing", forgeCalls(reqs))
	}
}
