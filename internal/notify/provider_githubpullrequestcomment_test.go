package notify

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestGitHubPullRequestComment(t *testing.T) {
	f, c := newOrgRepoFake(t, "githubpullrequestcomment")
	const (
		issueComments = "/api/v3/repos/org/repo/issues/42/comments"
		listQuery     = "?direction=asc&per_page=100&sort=created"
	)
	f.reply(http.MethodGet, "/api/v3/user", http.StatusOK, `{"login":"weir-bot"}`)
	f.reply(http.MethodPost, issueComments, http.StatusCreated, `{"id":1}`)
	f.reply(http.MethodPatch, "/api/v3/repos/org/repo/issues/comments/7", http.StatusOK, `{"id":7}`)
	n := mustNotifier(t, c)

	e := forgeEvent(event.SeverityError, "HealthCheckFailed")
	e.Metadata["change_request"] = "42"
	marker := "<!-- flux-pr-comment-key:" + forgeProviderUID + "/Kustomization/apps/webapp -->"
	body := changeRequestComment{providerUID: forgeProviderUID, keyPrefix: "flux-pr-comment-key"}.body(e)
	if !strings.HasPrefix(body, marker+"\n\n## Flux Status\n\n⚠️ Kustomization/apps/webapp\n\n") {
		t.Fatalf("comment body %q", body)
	}

	// No comment of ours yet (another user's has the marker): one is created.
	f.reply(http.MethodGet, issueComments, http.StatusOK, fmt.Sprintf(`[{"id":5,"body":%q,"user":{"login":"someone"}}]`, marker))
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET /api/v3/user", "GET "+issueComments+listQuery, "POST "+issueComments)
	assertForgeHeader(t, reqs[2], "Authorization", "Bearer "+forgeToken)
	assertJSON(t, reqs[2].Body, fmt.Sprintf(`{"body":%q}`, body))

	// Our comment exists: it is edited.
	f.reply(http.MethodGet, issueComments, http.StatusOK, fmt.Sprintf(
		`[{"id":5,"body":"hello","user":{"login":"weir-bot"}},{"id":7,"body":%q,"user":{"login":"weir-bot"}}]`, marker+"\nold"))
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs = f.requests()
	assertForgeCalls(t, reqs, "GET /api/v3/user", "GET "+issueComments+listQuery, "PATCH /api/v3/repos/org/repo/issues/comments/7")
	assertJSON(t, reqs[2].Body, fmt.Sprintf(`{"body":%q}`, body))

	// Events without a change request, and commit status updates, are not commented.
	for _, skip := range []event.Event{forgeEvent(event.SeverityInfo, "ReconciliationSucceeded"), e} {
		skip.Metadata = map[string]string{"revision": forgeRevision}
		if skip.Reason == "HealthCheckFailed" {
			skip.Metadata["change_request"] = "42"
			skip.Metadata["commit_status"] = "update"
		}
		if err := n.Post(t.Context(), skip); err != nil {
			t.Fatalf("Post: %v", err)
		}
		assertForgeCalls(t, f.requests())
	}

	assertForgeFailures(t, n, e, func(status int) {
		f.reply(http.MethodGet, "/api/v3/user", status, `{"message":"nope"}`)
	}, forgeToken)
}

func TestGitHubPullRequestCommentAsApp(t *testing.T) {
	f, c := newOrgRepoFake(t, "githubpullrequestcomment")
	c.Token = ""
	key, data := githubTestApp(t, f, map[string]string{"githubAppInstallationID": "123"})
	c.SecretData = data
	githubAppTokenRoute(t, f, key)
	const issueComments = "/api/v3/repos/org/repo/issues/42/comments"
	marker := "<!-- flux-pr-comment-key:" + forgeProviderUID + "/Kustomization/apps/webapp -->"
	f.reply(http.MethodGet, "/api/v3/app", http.StatusOK, `{"slug":"weir-app"}`)
	f.reply(http.MethodGet, issueComments, http.StatusOK, fmt.Sprintf(`[{"id":9,"body":%q,"user":{"login":"weir-app[bot]"}}]`, marker))
	f.reply(http.MethodPatch, "/api/v3/repos/org/repo/issues/comments/9", http.StatusOK, `{"id":9}`)

	e := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	e.Metadata["change_request"] = "42"
	if err := mustNotifier(t, c).Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET /api/v3/app", "POST /api/v3/app/installations/123/access_tokens",
		"GET "+issueComments+"?direction=asc&per_page=100&sort=created", "PATCH /api/v3/repos/org/repo/issues/comments/9")
	assertForgeHeader(t, reqs[3], "Authorization", "Bearer ghs_installation")

	if _, err := New(Config{Type: "githubpullrequestcomment", Address: c.Address, Token: "t"}); err == nil || Retryable(err) {
		t.Fatalf("no provider UID: %v, want a permanent error", err)
	}
}
