package notify

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func TestBitbucketServerCommitStatus(t *testing.T) {
	f := newForgeFake(t, false)
	key := sha1Hex(forgeStatusKey)
	// The server runs under the /bitbucket context path.
	builds := "/bitbucket/rest/api/latest/projects/PROJ/repos/repo/commits/" + forgeSHA + "/builds"
	address := f.srv.URL + "/bitbucket/scm/PROJ/repo.git"
	c := Config{
		Type: "bitbucketserver", Address: address, Token: forgeToken,
		ProviderUID: forgeProviderUID, Timeout: 5 * time.Second,
	}

	for _, tc := range []struct{ severity, reason, state, desc string }{
		{event.SeverityInfo, "ReconciliationSucceeded", "SUCCESSFUL", "reconciliation succeeded"},
		{event.SeverityError, "HealthCheckFailed", "FAILED", "health check failed"},
	} {
		f.reply(http.MethodGet, builds, http.StatusNotFound, `{"errors":[]}`)
		f.reply(http.MethodPost, builds, http.StatusNoContent, nil)
		if err := mustNotifier(t, c).Post(t.Context(), forgeEvent(tc.severity, tc.reason)); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "GET "+builds+"?key="+key, "POST "+builds)
		for _, r := range reqs {
			assertForgeHeader(t, r, "Authorization", "Bearer "+forgeToken)
			assertForgeHeader(t, r, "X-Atlassian-Token", "no-check")
			assertForgeHeader(t, r, "X-Requested-With", "XMLHttpRequest")
		}
		assertJSON(t, reqs[1].Body, fmt.Sprintf(`{"key":%q,"state":%q,"url":%q,"description":%q,"name":%q}`,
			key, tc.state, address, tc.desc, "kustomization/webapp ["+tc.desc+"]"))
	}

	// Basic authentication with username and password; a status equal to the key's is not
	// posted again.
	c.Token, c.BasicUsername, c.BasicPassword = "", "weir", forgeToken
	n := mustNotifier(t, c)
	f.reply(http.MethodGet, builds, http.StatusOK, fmt.Sprintf(`{"key":%q,"state":"SUCCESSFUL","description":"reconciliation succeeded","name":"kustomization/webapp [reconciliation succeeded]"}`, key))
	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET "+builds+"?key="+key)
	assertForgeHeader(t, reqs[0], "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("weir:"+forgeToken)))

	forgeSkips(t, f, n, true)

	assertForgeFailures(t, n, forgeEvent(event.SeverityError, "HealthCheckFailed"), func(status int) {
		f.reply(http.MethodGet, builds, http.StatusNotFound, `{}`)
		f.reply(http.MethodPost, builds, status, `{"errors":[]}`)
	}, forgeToken)
}

func TestBitbucketServerConfig(t *testing.T) {
	// Credentials in the address do not end up in the link.
	n, err := New(Config{Type: "bitbucketserver", Address: "https://user:pw@bitbucket.example.com/scm/proj/repo.git", Token: "t", ProviderUID: forgeProviderUID})
	if err != nil {
		t.Fatal(err)
	}
	b := n.(*bitbucketServerCommitStatus)
	if b.link != "https://bitbucket.example.com/scm/proj/repo.git" || b.commits != "https://bitbucket.example.com/rest/api/latest/projects/proj/repos/repo/commits" {
		t.Fatalf("link %q, commits %q", b.link, b.commits)
	}
	for name, bad := range map[string]Config{
		"ssh address":    {Address: "ssh://git@bitbucket.example.com/proj/repo.git", Token: "t"},
		"no scm":         {Address: "https://bitbucket.example.com/proj/repo.git", Token: "t"},
		"no credentials": {Address: "https://bitbucket.example.com/scm/proj/repo.git", BasicUsername: "u"},
	} {
		bad.Type, bad.ProviderUID = "bitbucketserver", forgeProviderUID
		if _, err := New(bad); err == nil || Retryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error %q quotes credentials", name, err)
		}
	}
}
