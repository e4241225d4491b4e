package notify

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestGitHubDispatch(t *testing.T) {
	f, c := newOrgRepoFake(t, "githubdispatch")
	const dispatches = "/api/v3/repos/org/repo/dispatches"
	f.reply(http.MethodPost, dispatches, http.StatusNoContent, nil)
	n := mustNotifier(t, c)

	for _, sev := range []string{event.SeverityInfo, event.SeverityError} {
		e := forgeEvent(sev, "ReconciliationSucceeded")
		e.Metadata["summary"] = "prod"
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "POST "+dispatches)
		assertForgeHeader(t, reqs[0], "Authorization", "Bearer "+forgeToken)
		payload, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		assertJSON(t, reqs[0].Body, `{"event_type":"Kustomization/webapp.apps","client_payload":`+string(payload)+`}`)
	}

	// Events only meant for commit statuses are not dispatched; events without a revision are.
	update := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	update.Metadata["commit_status"] = "update"
	if err := n.Post(t.Context(), update); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests())
	plain := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	plain.Metadata = nil
	if err := n.Post(t.Context(), plain); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests(), "POST "+dispatches)

	assertForgeFailures(t, n, plain, func(status int) {
		f.reply(http.MethodPost, dispatches, status, `{"message":"nope"}`)
	}, forgeToken)
}
