package notify

import (
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestGoogleChatPayload(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "googlechat", Address: s.URL + "/v1/spaces/AAA/messages?key=chatkey&token=chattoken"})
	card := func(text string) string {
		return `{"cards":[{"header":{"title":"kustomization/apps.flux-system","subtitle":"kustomize-controller","imageUrl":null,"imageStyle":null},
			"sections":[
				{"header":"","widgets":[{"textParagraph":{"text":` + text + `},"keyValue":null}]},
				{"header":"","widgets":[
					{"textParagraph":null,"keyValue":{"topLabel":"revision","content":"main@sha1:5ad5c0e1","contentMultiline":false,"bottomLabel":null,"icon":null}},
					{"textParagraph":null,"keyValue":{"topLabel":"summary","content":"prod cluster","contentMultiline":false,"bottomLabel":null,"icon":null}}]}]}]}`
	}
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, card(`"Reconciliation finished in 2s, next run in 10m"`)},
		{event.SeverityError, card(`"\u003cfont color=\"#ff0000\"\u003eDeployment/apps/web: timeout waiting for rollout\u003c/font\u003e"`)},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/v1/spaces/AAA/messages" || r.RawQuery != "key=chatkey&token=chattoken" {
				t.Errorf("got %s %s?%s", r.Method, r.Path, r.RawQuery)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestGoogleChatWithoutMetadata(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "googlechat", Address: s.URL + "/hook"})
	e := chatTestEvent(event.SeverityInfo)
	e.Metadata = nil
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, s.only(t).Body, `{"cards":[{"header":{"title":"kustomization/apps.flux-system","subtitle":"kustomize-controller","imageUrl":null,"imageStyle":null},
		"sections":[{"header":"","widgets":[{"textParagraph":{"text":"Reconciliation finished in 2s, next run in 10m"},"keyValue":null}]}]}]}`)
}

func TestGoogleChatConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "googlechat"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "googlechat", Address: s.URL + "/v1/spaces/AAA/messages?key=chatkey&token=chattoken"}, "chatkey", "chattoken")
}
