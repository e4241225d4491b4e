package notify

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

// The API paths of the project group/sub/my.project on a GitLab fake: the project path is one
// escaped segment.
const (
	gitlabFakeProject  = "/api/v4/projects/group%2Fsub%2Fmy%2Eproject"
	gitlabFakeStatuses = gitlabFakeProject + "/statuses/" + forgeSHA
	gitlabFakeList     = gitlabFakeProject + "/repository/commits/" + forgeSHA + "/statuses"
)

func newGitLabFake(t *testing.T, typ string) (*forgeFake, Config) {
	t.Helper()
	f := newForgeFake(t, false)
	return f, Config{
		Type: typ, Address: f.srv.URL + "/group/sub/my.project.git", Token: forgeToken,
		ProviderUID: forgeProviderUID, Timeout: 5 * time.Second,
	}
}

func TestGitLabCommitStatus(t *testing.T) {
	for _, tc := range []struct {
		name, severity, state string
	}{
		{"info is success", event.SeverityInfo, "success"},
		{"error is failed", event.SeverityError, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newGitLabFake(t, "gitlab")
			f.reply(http.MethodGet, gitlabFakeList, http.StatusOK, `[]`)
			f.reply(http.MethodPost, gitlabFakeStatuses, http.StatusCreated, `{}`)
			n := mustNotifier(t, c)

			if err := n.Post(t.Context(), forgeEvent(tc.severity, "ReconciliationSucceeded")); err != nil {
				t.Fatalf("Post: %v", err)
			}
			reqs := f.requests()
			assertForgeCalls(t, reqs, "GET "+gitlabFakeList+"?name="+url.QueryEscape(forgeStatusKey), "POST "+gitlabFakeStatuses)
			for _, r := range reqs {
				assertForgeHeader(t, r, "Private-Token", forgeToken)
			}
			assertJSON(t, reqs[1].Body, fmt.Sprintf(`{"state":%q,"name":%q,"description":"reconciliation succeeded"}`, tc.state, forgeStatusKey))
		})
	}
}

func TestGitLabCommitStatusDuplicateAndSkips(t *testing.T) {
	f, c := newGitLabFake(t, "gitlab")
	c.CommitStatus = "custom"
	f.reply(http.MethodGet, gitlabFakeList, http.StatusOK, fmt.Sprintf(
		`[{"sha":%q,"status":"success","name":"custom","description":"reconciliation succeeded"}]`, forgeSHA))
	n := mustNotifier(t, c)
	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests(), "GET "+gitlabFakeList+"?name=custom")
	forgeSkips(t, f, n, true)
}

func TestGitLabCommitStatusFailures(t *testing.T) {
	f, c := newGitLabFake(t, "gitlab")
	n := mustNotifier(t, c)
	f.reply(http.MethodGet, gitlabFakeList, http.StatusOK, `[]`)
	assertForgeFailures(t, n, forgeEvent(event.SeverityError, "HealthCheckFailed"), func(status int) {
		f.reply(http.MethodPost, gitlabFakeStatuses, status, `{"message":"nope"}`)
	}, forgeToken)
	if _, err := New(Config{Type: "gitlab", Address: c.Address, ProviderUID: forgeProviderUID}); err == nil || Retryable(err) {
		t.Fatalf("no token: %v, want a permanent error", err)
	}
}

func TestGitLabAPIBase(t *testing.T) {
	for addr, want := range map[string]string{
		"https://gitlab.com/group/project":              "https://gitlab.com/api/v4/projects/group%2Fproject",
		"git@gitlab.example.com:group/sub/project.git":  "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fproject",
		"http://gitlab.internal:8080/group/project.git": "http://gitlab.internal:8080/api/v4/projects/group%2Fproject",
	} {
		p, err := newGitLabProject(Config{Address: addr, Token: "t"})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if p.project != want {
			t.Errorf("%s: project API %q, want %q", addr, p.project, want)
		}
	}
}
