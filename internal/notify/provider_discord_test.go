package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestDiscordPayload(t *testing.T) {
	s := newStandIn(t)
	for _, tc := range []struct {
		name, address, wantPath string
		severity, want          string
	}{
		{"info", s.URL + "/api/webhooks/123/discordsecret", "/api/webhooks/123/discordsecret/slack", event.SeverityInfo,
			`{"channel":"","username":"kustomize-controller","icon_url":"","icon_emoji":"",
			"attachments":[{"color":"good","author_name":"kustomization/apps.flux-system",
			"text":"Reconciliation finished in 2s, next run in 10m","mrkdwn_in":["text"],
			"fields":[{"title":"revision","value":"main@sha1:5ad5c0e1","short":false},{"title":"summary","value":"prod cluster","short":false}]}]}`},
		{"error, address already on /slack", s.URL + "/api/webhooks/123/discordsecret/slack", "/api/webhooks/123/discordsecret/slack", event.SeverityError,
			`{"channel":"","username":"kustomize-controller","icon_url":"","icon_emoji":"",
			"attachments":[{"color":"danger","author_name":"kustomization/apps.flux-system",
			"text":"Deployment/apps/web: timeout waiting for rollout","mrkdwn_in":["text"],
			"fields":[{"title":"revision","value":"main@sha1:5ad5c0e1","short":false},{"title":"summary","value":"prod cluster","short":false}]}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The channel is the webhook's: spec.channel is not sent.
			n := mustNotifier(t, Config{Type: "discord", Address: tc.address, Channel: "ignored"})
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != tc.wantPath {
				t.Errorf("got %s %s, want POST %s", r.Method, r.Path, tc.wantPath)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestDiscordConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "discord"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "discord", Address: s.URL + "/api/webhooks/123/discordsecret"}, "discordsecret")
}
