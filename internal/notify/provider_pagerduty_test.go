package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestPagerDutyEvents(t *testing.T) {
	s := newStandIn(t)
	// The address's path is ignored: events go to the Events API v2 paths of its host.
	n := mustNotifier(t, Config{Type: "pagerduty", Address: s.URL + "/ignored/path", Channel: "R0UT1NGKEY"})
	metadata := `{"revision":"main@sha1:5ad5c0e1","summary":"prod cluster"}`

	t.Run("error triggers an incident", func(t *testing.T) {
		if err := n.Post(t.Context(), chatTestEvent(event.SeverityError)); err != nil {
			t.Fatal(err)
		}
		r := s.only(t)
		if r.Method != http.MethodPost || r.Path != "/v2/enqueue" {
			t.Errorf("got %s %s", r.Method, r.Path)
		}
		assertHeader(t, r, "Content-Type", "application/json")
		assertJSON(t, r.Body, `{"routing_key":"R0UT1NGKEY","event_action":"trigger","dedup_key":"0cd9e5b2-1f4a-4d21-9e0e-7d0c58a1e2b3",
			"payload":{"summary":"health check failed: kustomization/apps","source":"Flux kustomize-controller","severity":"error",
			"timestamp":"2025-03-04T05:06:07Z","component":"apps","group":"Kustomization",
			"custom_details":{"message":"Deployment/apps/web: timeout waiting for rollout","metadata":`+metadata+`}}}`)
	})

	t.Run("info resolves and records a change", func(t *testing.T) {
		if err := n.Post(t.Context(), chatTestEvent(event.SeverityInfo)); err != nil {
			t.Fatal(err)
		}
		reqs := s.requests()
		if len(reqs) != 2 || reqs[0].Path != "/v2/enqueue" || reqs[1].Path != "/v2/change/enqueue" {
			t.Fatalf("got %d requests: %+v", len(reqs), reqs)
		}
		assertJSON(t, reqs[0].Body, `{"routing_key":"R0UT1NGKEY","event_action":"resolve","dedup_key":"0cd9e5b2-1f4a-4d21-9e0e-7d0c58a1e2b3"}`)
		assertJSON(t, reqs[1].Body, `{"routing_key":"R0UT1NGKEY","payload":{"source":"Flux kustomize-controller",
			"summary":"reconciliation succeeded: kustomization/apps","timestamp":"2025-03-04T05:06:07Z",
			"custom_details":{"message":"Reconciliation finished in 2s, next run in 10m","metadata":`+metadata+`}},"links":null}`)
	})

	t.Run("progressing is not sent", func(t *testing.T) {
		e := chatTestEvent(event.SeverityInfo)
		e.Reason = "Progressing"
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		if reqs := s.requests(); len(reqs) != 0 {
			t.Errorf("got %d requests", len(reqs))
		}
	})
}

func TestPagerDutyConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "pagerduty", Channel: "R0UT1NGKEY"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "pagerduty", Address: s.URL, Channel: "R0UT1NGKEY"}, "R0UT1NGKEY")
}
