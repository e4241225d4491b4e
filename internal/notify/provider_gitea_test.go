package notify

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

const (
	giteaFakeRepo     = "/api/v1/repos/org/repo"
	giteaFakeStatuses = giteaFakeRepo + "/statuses/" + forgeSHA
	giteaFakeList     = giteaFakeRepo + "/commits/" + forgeSHA + "/statuses"
)

func newGiteaFake(t *testing.T, typ string) (*forgeFake, Config) {
	t.Helper()
	f := newForgeFake(t, false)
	return f, Config{
		Type: typ, Address: f.srv.URL + "/org/repo.git", Token: forgeToken,
		ProviderUID: forgeProviderUID, Timeout: 5 * time.Second,
	}
}

func TestGiteaCommitStatus(t *testing.T) {
	for _, tc := range []struct {
		name, severity, reason, state, desc string
	}{
		{"info is success", event.SeverityInfo, "ReconciliationSucceeded", "success", "reconciliation succeeded"},
		{"error is failure", event.SeverityError, "HealthCheckFailed", "failure", "health check failed"},
		{"progressing is pending", event.SeverityInfo, "Progressing", "pending", "progressing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newGiteaFake(t, "gitea")
			f.reply(http.MethodGet, giteaFakeList, http.StatusOK, `[]`)
			f.reply(http.MethodPost, giteaFakeStatuses, http.StatusCreated, `{}`)
			n := newForgeNotifier(t, c)

			if err := n.Post(t.Context(), forgeEvent(tc.severity, tc.reason)); err != nil {
				t.Fatalf("Post: %v", err)
			}
			reqs := f.requests()
			assertForgeCalls(t, reqs, "GET "+giteaFakeList+"?limit=50&page=1", "POST "+giteaFakeStatuses)
			for _, r := range reqs {
				assertForgeHeader(t, r, "Authorization", "token "+forgeToken)
			}
			assertForgeJSON(t, reqs[1].Body, fmt.Sprintf(`{"state":%q,"target_url":"","description":%q,"context":%q}`, tc.state, tc.desc, forgeStatusKey))
		})
	}
}

func TestGiteaCommitStatusDuplicateAndFailures(t *testing.T) {
	f, c := newGiteaFake(t, "gitea")
	c.Token, c.BasicPassword = "", forgeToken // the password stands in for a token
	f.reply(http.MethodGet, giteaFakeList, http.StatusOK, fmt.Sprintf(
		`[{"context":%q,"state":"success","description":"reconciliation succeeded"}]`, forgeStatusKey))
	n := newForgeNotifier(t, c)
	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET "+giteaFakeList+"?limit=50&page=1")
	assertForgeHeader(t, reqs[0], "Authorization", "token "+forgeToken)

	forgeSkips(t, f, n, false)

	assertForgeFailures(t, n, forgeEvent(event.SeverityError, "HealthCheckFailed"), func(status int) {
		f.reply(http.MethodPost, giteaFakeStatuses, status, `{"message":"nope"}`)
	}, forgeToken)
	if _, err := New(Config{Type: "gitea", Address: c.Address, ProviderUID: forgeProviderUID}); err == nil || Retryable(err) {
		t.Fatalf("no token: %v, want a permanent error", err)
	}
}
