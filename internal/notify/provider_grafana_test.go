package notify

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestGrafanaAnnotation(t *testing.T) {
	s := newStandIn(t)
	for _, tc := range []struct {
		name     string
		c        Config
		severity string
		auth     string
	}{
		{"token", Config{Token: "glsa_grafana_token", BasicUsername: "admin", BasicPassword: "grafana-password"}, event.SeverityInfo, "Bearer glsa_grafana_token"},
		{"basic", Config{BasicUsername: "admin", BasicPassword: "grafana-password"}, event.SeverityError, "Basic YWRtaW46Z3JhZmFuYS1wYXNzd29yZA=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Type, tc.c.Address = "grafana", s.URL+"/api/annotations/graphite"
			n := mustNotifier(t, tc.c)
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/api/annotations/graphite" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Authorization", tc.auth)
			assertHeader(t, r, "Content-Type", "application/json")
			// The format is the same for both severities; ':' in metadata becomes '|'.
			assertJSON(t, r.Body, fmt.Sprintf(`{"when":%d,"text":"kustomization/apps.flux-system",
				"tags":["flux","kustomize-controller","revision: main@sha1|5ad5c0e1","summary: prod cluster",
				"kind: Kustomization","name: apps","namespace: flux-system"]}`, chatTestTime.Unix()))
		})
	}
}

func TestGrafanaConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "grafana"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "grafana", Address: s.URL + "/api/annotations/graphite", Token: "glsa_grafana_token"})
}
