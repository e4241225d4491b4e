package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestLarkCard(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "lark", Address: s.URL + "/open-apis/bot/v2/hook/larksecret"})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},
			"header":{"title":{"tag":"plain_text","content":"💫 kustomization/apps.flux-system"},"template":"turquoise"},
			"elements":[{"tag":"div","text":{"tag":"lark_md",
			"content":"**Reconciliation finished in 2s, next run in 10m**\n\nrevision: main@sha1:5ad5c0e1\nsummary: prod cluster\n"}}]}}`},
		{event.SeverityError, `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},
			"header":{"title":{"tag":"plain_text","content":"🚨 kustomization/apps.flux-system"},"template":"red"},
			"elements":[{"tag":"div","text":{"tag":"lark_md",
			"content":"**Deployment/apps/web: timeout waiting for rollout**\n\nrevision: main@sha1:5ad5c0e1\nsummary: prod cluster\n"}}]}}`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/open-apis/bot/v2/hook/larksecret" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestLarkConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "lark"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "lark", Address: s.URL + "/open-apis/bot/v2/hook/larksecret"}, "larksecret")
}
