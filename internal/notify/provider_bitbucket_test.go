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

func TestBitbucketCommitStatus(t *testing.T) {
	f := newForgeFake(t, false)
	t.Setenv("BITBUCKET_API_BASE_URL", f.srv.URL+"/2.0")
	key := sha1Hex(forgeStatusKey)
	builds := "/2.0/repositories/org/repo/commit/" + forgeSHA + "/statuses/build"
	c := Config{
		Type: "bitbucket", Address: "https://bitbucket.org/org/repo.git", Token: "weir:" + forgeToken,
		ProviderUID: forgeProviderUID, Timeout: 5 * time.Second,
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("weir:"+forgeToken))

	for _, tc := range []struct{ severity, state string }{
		{event.SeverityInfo, "SUCCESSFUL"}, {event.SeverityError, "FAILED"},
	} {
		f.reply(http.MethodGet, builds+"/"+key, http.StatusNotFound, `{"type":"error"}`)
		f.reply(http.MethodPost, builds, http.StatusCreated, `{}`)
		if err := mustNotifier(t, c).Post(t.Context(), forgeEvent(tc.severity, "ReconciliationSucceeded")); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "GET "+builds+"/"+key, "POST "+builds)
		for _, r := range reqs {
			assertForgeHeader(t, r, "Authorization", basic)
		}
		assertJSON(t, reqs[1].Body, fmt.Sprintf(
			`{"key":%q,"url":"https://bitbucket.org","state":%q,"name":"kustomization/webapp","description":"reconciliation succeeded"}`, key, tc.state))
	}

	// The key has that status already: nothing is posted. An access token is a bearer token.
	c.Token = "x-token-auth:" + forgeToken
	n := mustNotifier(t, c)
	f.reply(http.MethodGet, builds+"/"+key, http.StatusOK, `{"key":"`+key+`","state":"SUCCESSFUL","description":"reconciliation succeeded"}`)
	if err := n.Post(t.Context(), forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "GET "+builds+"/"+key)
	assertForgeHeader(t, reqs[0], "Authorization", "Bearer "+forgeToken)

	forgeSkips(t, f, n, true)

	assertForgeFailures(t, n, forgeEvent(event.SeverityError, "HealthCheckFailed"), func(status int) {
		f.reply(http.MethodPost, builds, status, `{"type":"error"}`)
	}, forgeToken)

	for name, bad := range map[string]Config{
		"no token":        {Type: "bitbucket", Address: c.Address, ProviderUID: forgeProviderUID},
		"token not pair":  {Type: "bitbucket", Address: c.Address, Token: forgeToken, ProviderUID: forgeProviderUID},
		"no repository":   {Type: "bitbucket", Address: "https://bitbucket.org/org", Token: "a:b", ProviderUID: forgeProviderUID},
		"no provider UID": {Type: "bitbucket", Address: c.Address, Token: "a:b"},
	} {
		if _, err := New(bad); err == nil || Retryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		} else if strings.Contains(err.Error(), forgeToken) {
			t.Errorf("%s: error %q quotes the token", name, err)
		}
	}
}
