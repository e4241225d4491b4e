package notify

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

const (
	giteaFakeRepo     = "/api/v1/repos/org/repo"
	giteaFakeStatuses = giteaFakeRepo + "/statuses/" + forgeSHA
	giteaFakeList     = giteaFakeRepo + "/commits/" + forgeSHA + "/statuses"
)

func TestGiteaCommitStatus(t *testing.T) {
	for _, tc := range []struct {
		name, severity, reason, state, desc string
	}{
		{"info is success", event.SeverityInfo, "ReconciliationSucceeded", "success", "reconciliation succeeded"},
		{"error is failure", event.SeverityError, "HealthCheckFailed", "failure", "health check failed"},
		{"progressing is pending", event.SeverityInfo, "Progressing", "pending", "progressing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newOrgRepoFake(t, "gitea")
			f.reply(http.MethodGet, giteaFakeList, http.StatusOK, `[]`)
			f.reply(http.MethodPost, giteaFakeStatuses, http.StatusCreated, `{}`)
			n := mustNotifier(t, c)

			if err := n.Post(t.Context(), forgeEvent(tc.severity, tc.reason)); err != nil {
				t.Fatalf("Post: %v", err)
			}
			reqs := f.requests()
			assertForgeCalls(t, reqs, "GET "+giteaFakeList+"?limit=50&page=1", "POST "+giteaFakeStatuses)
			for _, r := range reqs {
				assertForgeHeader(t, r, "Authorization", "token "+forgeToken)
			}
			assertJSON(t, reqs[1].Body, fmt.Sprintf(`{"state":%q,"target_url":"","description":%q,"context":%q}`, tc.state, tc.desc, forgeStatusKey))
		})
	}
}

func TestGiteaCommitStatusDuplicateAndFailures(t *testing.T) {
	f, c := newOrgRepoFake(t, "gitea")
	c.Token, c.BasicPassword = "", forgeToken // the password stands in for a token
	f.reply(http.MethodGet, giteaFakeList, http.StatusOK, fmt.Sprintf(
		`[{"context":%q,"state":"success","description":"reconciliation succeeded"}]`, forgeStatusKey))
	n := mustNotifier(t, c)
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
