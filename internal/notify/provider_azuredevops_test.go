package notify

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func TestAzureDevOpsCommitStatus(t *testing.T) {
	f := newForgeFake(t, false)
	statuses := "/org/proj/_apis/git/repositories/repo/commits/" + forgeSHA + "/statuses"
	c := Config{
		Type: "azuredevops", Address: f.srv.URL + "/org/proj/_git/repo", Token: forgeToken,
		ProviderUID: forgeProviderUID, Timeout: 5 * time.Second,
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+forgeToken))

	for _, tc := range []struct{ severity, reason, state, desc, summary, genre string }{
		{event.SeverityInfo, "ReconciliationSucceeded", "succeeded", "reconciliation succeeded", "", "fluxcd"},
		{event.SeverityError, "HealthCheckFailed", "error", "health check failed", "prod", "fluxcd:prod"},
	} {
		f.reply(http.MethodGet, statuses, http.StatusOK, `{"count":0,"value":[]}`)
		f.reply(http.MethodPost, statuses, http.StatusCreated, `{}`)
		e := forgeEvent(tc.severity, tc.reason)
		if tc.summary != "" {
			e.Metadata["summary"] = tc.summary
		}
		if err := mustNotifier(t, c).Post(t.Context(), e); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "GET "+statuses+"?api-version=6.0", "POST "+statuses+"?api-version=6.0")
		for _, r := range reqs {
			assertForgeHeader(t, r, "Authorization", basic)
		}
		assertJSON(t, reqs[1].Body, fmt.Sprintf(`{"context":{"genre":%q,"name":%q},"description":%q,"state":%q}`,
			tc.genre, forgeStatusKey, tc.desc, tc.state))
	}

	// The latest status of the context is the same: nothing is created.
	n := mustNotifier(t, c)
	f.reply(http.MethodGet, statuses, http.StatusOK, fmt.Sprintf(`{"count":2,"value":[`+
		`{"state":"succeeded","description":"reconciliation succeeded","context":{"genre":"fluxcd","name":%q}},`+
		`{"state":"error","description":"old","context":{"genre":"fluxcd","name":%q}}]}`, forgeStatusKey, forgeStatusKey))
	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests(), "GET "+statuses+"?api-version=6.0")

	forgeSkips(t, f, n, true)

	assertForgeFailures(t, n, forgeEvent(event.SeverityError, "HealthCheckFailed"), func(status int) {
		f.reply(http.MethodPost, statuses, status, `{"message":"nope"}`)
	}, forgeToken)

	for name, bad := range map[string]Config{
		"no token":       {Address: c.Address},
		"not a git repo": {Address: f.srv.URL + "/org/proj/repo", Token: "t"},
	} {
		bad.Type, bad.ProviderUID = "azuredevops", forgeProviderUID
		if _, err := New(bad); err == nil || Retryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
}
