package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestWebexMessage(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "webex", Address: s.URL + "/v1/messages", Channel: "Y2lzY29zcGFyazovL3VzL1JPT00", Token: "webex-bot-token"})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, `{"roomId":"Y2lzY29zcGFyazovL3VzL1JPT00","markdown":"✅ **kustomization/apps.flux-system**\n` +
			`Reconciliation finished in 2s, next run in 10m\n\u003e**revision**: main@sha1:5ad5c0e1\n\u003e**summary**: prod cluster\n"}`},
		{event.SeverityError, `{"roomId":"Y2lzY29zcGFyazovL3VzL1JPT00","markdown":"💣 **kustomization/apps.flux-system**\n` +
			`Deployment/apps/web: timeout waiting for rollout\n\u003e**revision**: main@sha1:5ad5c0e1\n\u003e**summary**: prod cluster\n"}`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/v1/messages" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Authorization", "Bearer webex-bot-token")
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestWebexConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "webex", Token: "webex-bot-token"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "webex", Address: s.URL + "/v1/messages", Token: "webex-bot-token"})
}
