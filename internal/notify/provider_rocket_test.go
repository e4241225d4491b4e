package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestRocketPayload(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "rocket", Address: s.URL + "/hooks/rocketsecret", Channel: "#flux", Username: "flux"})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, `{"channel":"#flux","username":"flux","icon_url":"","icon_emoji":"",
			"attachments":[{"color":"#0076D7","author_name":"kustomization/apps.flux-system",
			"text":"Reconciliation finished in 2s, next run in 10m","mrkdwn_in":["text"],
			"fields":[{"title":"revision","value":"main@sha1:5ad5c0e1","short":false},{"title":"summary","value":"prod cluster","short":false}]}]}`},
		{event.SeverityError, `{"channel":"#flux","username":"flux","icon_url":"","icon_emoji":"",
			"attachments":[{"color":"#FF0000","author_name":"kustomization/apps.flux-system",
			"text":"Deployment/apps/web: timeout waiting for rollout","mrkdwn_in":["text"],
			"fields":[{"title":"revision","value":"main@sha1:5ad5c0e1","short":false},{"title":"summary","value":"prod cluster","short":false}]}]}`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/hooks/rocketsecret" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestRocketConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "rocket"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "rocket", Address: s.URL + "/hooks/rocketsecret"}, "rocketsecret")
}
