package notify

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestGiteaPullRequestComment(t *testing.T) {
	f, c := newOrgRepoFake(t, "giteapullrequestcomment")
	const comments = giteaFakeRepo + "/issues/12/comments"
	marker := "<!-- flux-pr-comment-key:" + forgeProviderUID + "/Kustomization/apps/webapp -->"
	f.reply(http.MethodGet, "/api/v1/user", http.StatusOK, `{"id":1,"login":"weir-bot"}`)
	f.reply(http.MethodPost, comments, http.StatusCreated, `{"id":1}`)
	f.reply(http.MethodPatch, giteaFakeRepo+"/issues/comments/4", http.StatusOK, `{"id":4}`)
	n := mustNotifier(t, c)

	e := forgeEvent(event.SeverityError, "HealthCheckFailed")
	e.Metadata["change_request"] = "12"
	body := changeRequestComment{providerUID: forgeProviderUID, keyPrefix: "flux-pr-comment-key"}.body(e)

	f.reply(http.MethodGet, comments, http.StatusOK, fmt.Sprintf(`[{"id":3,"body":%q,"user":{"login":"someone"}}]`, marker))
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET /api/v1/user", "GET "+comments+"?limit=100&page=1", "POST "+comments)
	assertForgeHeader(t, reqs[2], "Authorization", "token "+forgeToken)
	assertJSON(t, reqs[2].Body, fmt.Sprintf(`{"body":%q}`, body))

	f.reply(http.MethodGet, comments, http.StatusOK, fmt.Sprintf(`[{"id":4,"body":%q,"user":{"login":"weir-bot"}}]`, marker))
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs = f.requests()
	assertForgeCalls(t, reqs, "GET /api/v1/user", "GET "+comments+"?limit=100&page=1", "PATCH "+giteaFakeRepo+"/issues/comments/4")
	assertJSON(t, reqs[2].Body, fmt.Sprintf(`{"body":%q}`, body))

	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests())

	assertForgeFailures(t, n, e, func(status int) {
		f.reply(http.MethodGet, comments, status, `{"message":"nope"}`)
	}, forgeToken)
}
