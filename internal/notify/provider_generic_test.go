package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

// genericTestEventJSON is the test event of the severity in Flux's event API shape.
func genericTestEventJSON(severity, reason, message string) string {
	return `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps",
		"uid":"0cd9e5b2-1f4a-4d21-9e0e-7d0c58a1e2b3","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},
		"severity":"` + severity + `","timestamp":"2025-03-04T05:06:07Z","message":"` + message + `","reason":"` + reason + `",
		"metadata":{"revision":"main@sha1:5ad5c0e1","summary":"prod cluster"},
		"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`
}

func TestGenericForward(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "generic", Address: s.URL + "/flux/events?key=querysecret",
		Headers: map[string]string{"Authorization": "Bearer header-secret", "x-env": "prod"}})
	for _, tc := range []struct {
		severity, reason, message string
	}{
		{event.SeverityInfo, "ReconciliationSucceeded", "Reconciliation finished in 2s, next run in 10m"},
		{event.SeverityError, "HealthCheckFailed", "Deployment/apps/web: timeout waiting for rollout"},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/flux/events" || r.RawQuery != "key=querysecret" {
				t.Errorf("got %s %s?%s", r.Method, r.Path, r.RawQuery)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertHeader(t, r, "Gotk-Component", "kustomize-controller")
			assertHeader(t, r, "Authorization", "Bearer header-secret")
			assertHeader(t, r, "X-Env", "prod")
			assertHeader(t, r, "X-Signature", "")
			assertJSON(t, r.Body, genericTestEventJSON(tc.severity, tc.reason, tc.message))
		})
	}
}

func TestGenericHeadersOverrideComponent(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "generic", Address: s.URL, Headers: map[string]string{"gotk-component": "custom"}})
	if err := n.Post(t.Context(), chatTestEvent(event.SeverityInfo)); err != nil {
		t.Fatal(err)
	}
	if got := s.only(t).Header.Values("Gotk-Component"); len(got) != 1 || got[0] != "custom" {
		t.Errorf("Gotk-Component = %q", got)
	}
}

func TestGenericHMACSignature(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "generic-hmac", Address: s.URL + "/flux/events", Token: "hmac-shared-key"})
	if err := n.Post(t.Context(), chatTestEvent(event.SeverityError)); err != nil {
		t.Fatal(err)
	}
	r := s.only(t)
	assertJSON(t, r.Body, genericTestEventJSON(event.SeverityError, "HealthCheckFailed", "Deployment/apps/web: timeout waiting for rollout"))
	mac := hmac.New(sha256.New, []byte("hmac-shared-key"))
	mac.Write(r.Body)
	assertHeader(t, r, "X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	assertHeader(t, r, "Gotk-Component", "kustomize-controller")
}

func TestGenericConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "generic"})
	assertConfigError(t, Config{Type: "generic-hmac", Token: "hmac-shared-key"})
	assertConfigError(t, Config{Type: "generic-hmac", Address: "https://example.com/hook"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "generic", Address: s.URL + "/flux/events?key=querysecret",
		Headers: map[string]string{"Authorization": "Bearer header-secret"}}, "querysecret", "header-secret")
	assertDeliveryFailures(t, s, Config{Type: "generic-hmac", Address: s.URL + "/flux/events", Token: "hmac-shared-key"})
}
