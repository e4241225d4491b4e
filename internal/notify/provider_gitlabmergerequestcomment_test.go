package notify

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestGitLabMergeRequestComment(t *testing.T) {
	f, c := newGitLabFake(t, "gitlabmergerequestcomment")
	const (
		notes     = gitlabFakeProject + "/merge_requests/7/notes"
		listQuery = "?order_by=created_at&per_page=100&sort=asc"
	)
	marker := "<!-- flux-mr-comment-key:" + forgeProviderUID + "/Kustomization/apps/webapp -->"
	f.reply(http.MethodGet, "/api/v4/user", http.StatusOK, `{"username":"weir-bot"}`)
	f.reply(http.MethodPost, notes, http.StatusCreated, `{"id":1}`)
	f.reply(http.MethodPut, notes+"/3", http.StatusOK, `{"id":3}`)
	n := mustNotifier(t, c)

	e := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	e.Metadata["change_request"] = "7"
	body := changeRequestComment{providerUID: forgeProviderUID, keyPrefix: "flux-mr-comment-key"}.body(e)

	f.reply(http.MethodGet, notes, http.StatusOK, `[]`)
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET /api/v4/user", "GET "+notes+listQuery, "POST "+notes)
	assertForgeHeader(t, reqs[2], "Private-Token", forgeToken)
	assertJSON(t, reqs[2].Body, fmt.Sprintf(`{"body":%q}`, body))

	f.reply(http.MethodGet, notes, http.StatusOK, fmt.Sprintf(
		`[{"id":2,"body":%q,"author":{"username":"someone"}},{"id":3,"body":%q,"author":{"username":"weir-bot"}}]`, marker, marker))
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs = f.requests()
	assertForgeCalls(t, reqs, "GET /api/v4/user", "GET "+notes+listQuery, "PUT "+notes+"/3")
	assertJSON(t, reqs[2].Body, fmt.Sprintf(`{"body":%q}`, body))

	noMR := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	if err := n.Post(t.Context(), noMR); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests())

	assertForgeFailures(t, n, e, func(status int) {
		f.reply(http.MethodPost, notes, status, `{"message":"nope"}`)
		f.reply(http.MethodGet, notes, http.StatusOK, `[]`)
	}, forgeToken)
}
