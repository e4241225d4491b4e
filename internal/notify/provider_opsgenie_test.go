package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestOpsgenieAlert(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "opsgenie", Address: s.URL + "/v2/alerts", Token: "genie-api-key"})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, `{"message":"Kustomization/apps","description":"Reconciliation finished in 2s, next run in 10m",
			"details":{"revision":"main@sha1:5ad5c0e1","summary":"prod cluster","severity":"info"}}`},
		{event.SeverityError, `{"message":"Kustomization/apps","description":"Deployment/apps/web: timeout waiting for rollout",
			"details":{"revision":"main@sha1:5ad5c0e1","summary":"prod cluster","severity":"error"}}`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			e := chatTestEvent(tc.severity)
			if err := n.Post(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			if _, changed := e.Metadata["severity"]; changed {
				t.Error("Post changed the event's metadata")
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/v2/alerts" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Authorization", "GenieKey genie-api-key")
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestOpsgenieConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "opsgenie", Token: "genie-api-key"})
	assertConfigError(t, Config{Type: "opsgenie", Address: "https://api.opsgenie.com/v2/alerts"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "opsgenie", Address: s.URL + "/v2/alerts", Token: "genie-api-key"})
}
