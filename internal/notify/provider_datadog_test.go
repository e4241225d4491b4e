package notify

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestDataDogEvent(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "datadog", Address: s.URL, Token: "dd-api-key"})
	for _, tc := range []struct {
		severity, alertType, reason, message string
	}{
		{event.SeverityInfo, "info", "reconciliationsucceeded", "Reconciliation finished in 2s, next run in 10m"},
		{event.SeverityError, "error", "healthcheckfailed", "Deployment/apps/web: timeout waiting for rollout"},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/api/v1/events" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "DD-API-KEY", "dd-api-key")
			assertHeader(t, r, "Accept", "application/json")
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, fmt.Sprintf(`{"alert_type":%q,"date_happened":%d,"source_type_name":"fluxcd",
				"tags":["flux_reporting_controller:kustomize-controller","flux_reason:%s","kube_kind:kustomization",
				"kube_name:apps","kube_namespace:flux-system","revision:main@sha1:5ad5c0e1","summary:prod cluster"],
				"text":%q,"title":"Events from the Kustomization apps/flux-system"}`, tc.alertType, chatTestTime.Unix(), tc.reason, tc.message))
		})
	}
}

func TestDataDogConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "datadog", Token: "dd-api-key"})
	assertConfigError(t, Config{Type: "datadog", Address: "https://api.datadoghq.eu"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "datadog", Address: s.URL, Token: "dd-api-key"})
}
