package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestMSTeamsAdaptiveCard(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "msteams", Address: s.URL + "/workflows/teamssecret?sig=querysecret"})
	card := func(message string) string {
		return `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
			"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4",
			"msteams":{"width":"Full"},
			"body":[{"type":"Container","items":[
				{"type":"TextBlock","text":"kustomization/apps.flux-system","size":"large","weight":"bolder","wrap":true},
				` + message + `,
				{"type":"FactSet","facts":[{"title":"summary","value":"prod cluster"},{"title":"revision","value":"main@sha1:5ad5c0e1"}]}
			]}]}}]}`
	}
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, card(`{"type":"TextBlock","text":"Reconciliation finished in 2s, next run in 10m","wrap":true}`)},
		{event.SeverityError, card(`{"type":"TextBlock","text":"Deployment/apps/web: timeout waiting for rollout","color":"attention","wrap":true}`)},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/workflows/teamssecret" || r.RawQuery != "sig=querysecret" {
				t.Errorf("got %s %s?%s", r.Method, r.Path, r.RawQuery)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

// TestMSTeamsConnectorCard posts through the stand-in as a proxy, to an address on
// webhook.office.com: the deprecated connectors get a MessageCard.
func TestMSTeamsConnectorCard(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "msteams", Address: "http://acme.webhook.office.com/webhookb2/teamssecret", Proxy: s.URL})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"0076D7",
			"summary":"kustomization/apps.flux-system","sections":[{"activityTitle":"Reconciliation finished in 2s, next run in 10m",
			"activitySubtitle":"kustomization/apps.flux-system",
			"facts":[{"name":"revision","value":"main@sha1:5ad5c0e1"},{"name":"summary","value":"prod cluster"}]}]}`},
		{event.SeverityError, `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"FF0000",
			"summary":"kustomization/apps.flux-system","sections":[{"activityTitle":"Deployment/apps/web: timeout waiting for rollout",
			"activitySubtitle":"kustomization/apps.flux-system",
			"facts":[{"name":"revision","value":"main@sha1:5ad5c0e1"},{"name":"summary","value":"prod cluster"}]}]}`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/webhookb2/teamssecret" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestMSTeamsConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "msteams"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "msteams", Address: s.URL + "/workflows/teamssecret?sig=querysecret"}, "teamssecret", "querysecret")
}
