package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestAlertmanagerAlert(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "alertmanager", Address: s.URL + "/api/v2/alerts", Token: "am-token"})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, `[{"status":"firing",
			"labels":{"alertname":"FluxKustomizationReconciliationsucceeded","severity":"info","reason":"ReconciliationSucceeded",
				"kind":"Kustomization","name":"apps","namespace":"flux-system","reportingcontroller":"kustomize-controller",
				"revision":"main@sha1:5ad5c0e1"},
			"annotations":{"message":"Reconciliation finished in 2s, next run in 10m","summary":"prod cluster"},
			"startsAt":"2025-03-04T05:06:07Z","endsAt":"0001-01-01T00:00:00Z"}]`},
		{event.SeverityError, `[{"status":"firing",
			"labels":{"alertname":"FluxKustomizationHealthcheckfailed","severity":"error","reason":"HealthCheckFailed",
				"kind":"Kustomization","name":"apps","namespace":"flux-system","reportingcontroller":"kustomize-controller",
				"revision":"main@sha1:5ad5c0e1"},
			"annotations":{"message":"Deployment/apps/web: timeout waiting for rollout","summary":"prod cluster"},
			"startsAt":"2025-03-04T05:06:07Z","endsAt":"0001-01-01T00:00:00Z"}]`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			e := chatTestEvent(tc.severity)
			if err := n.Post(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			if _, kept := e.Metadata["summary"]; !kept || len(e.Metadata) != 2 {
				t.Error("Post changed the event's metadata")
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/api/v2/alerts" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Authorization", "Bearer am-token")
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestAlertmanagerBasicAuth(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "alertmanager", Address: s.URL + "/api/v2/alerts", BasicUsername: "flux", BasicPassword: "am-password"})
	if err := n.Post(t.Context(), chatTestEvent(event.SeverityError)); err != nil {
		t.Fatal(err)
	}
	if r := s.only(t); !r.HasBasic || r.User != "flux" || r.Password != "am-password" {
		t.Errorf("got basic auth %v %q %q", r.HasBasic, r.User, r.Password)
	}
}

func TestAlertmanagerConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "alertmanager"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "alertmanager", Address: s.URL + "/api/v2/alerts", Token: "am-token"})
	assertDeliveryFailures(t, s, Config{Type: "alertmanager", Address: s.URL + "/api/v2/alerts", BasicUsername: "flux", BasicPassword: "am-password"})
}
