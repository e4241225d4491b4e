package notify

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestZulipMessage(t *testing.T) {
	s := newStandIn(t)
	// The address's path is replaced by the messages API.
	n := mustNotifier(t, Config{Type: "zulip", Address: s.URL + "/some/path", Channel: "ops/flux alerts",
		BasicUsername: "flux-bot@zulip.example.org", BasicPassword: "zulip-api-key"})
	for _, tc := range []struct {
		severity, content string
	}{
		{event.SeverityInfo, "## Flux Status\n\nℹ️ Kustomization/flux-system/apps\n\nReconciliation finished in 2s, next run in 10m\n\n" +
			"Metadata:\n* `revision`: main@sha1:5ad5c0e1\n* `summary`: prod cluster\n"},
		{event.SeverityError, "## Flux Status\n\n⚠️ Kustomization/flux-system/apps\n\nDeployment/apps/web: timeout waiting for rollout\n\n" +
			"Metadata:\n* `revision`: main@sha1:5ad5c0e1\n* `summary`: prod cluster\n"},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/api/v1/messages" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/x-www-form-urlencoded")
			if !r.HasBasic || r.User != "flux-bot@zulip.example.org" || r.Password != "zulip-api-key" {
				t.Errorf("got basic auth %v %q %q", r.HasBasic, r.User, r.Password)
			}
			want := url.Values{"type": {"stream"}, "to": {"ops"}, "topic": {"flux alerts"}, "content": {tc.content}}.Encode()
			if string(r.Body) != want {
				t.Errorf("got body %s\nwant %s", r.Body, want)
			}
		})
	}
}

func TestZulipConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "zulip", Channel: "ops/flux"})
	for _, channel := range []string{"", "ops", "ops/", "/flux"} {
		assertConfigError(t, Config{Type: "zulip", Address: "https://zulip.example.org", Channel: channel})
	}
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "zulip", Address: s.URL, Channel: "ops/flux",
		BasicUsername: "flux-bot@zulip.example.org", BasicPassword: "zulip-api-key"})
}
