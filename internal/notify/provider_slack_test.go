package notify

import (
	"errors"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestSlackPayload(t *testing.T) {
	s := newStandIn(t)
	c := Config{Type: "slack", Address: s.URL + "/services/T000/B000/hooksecret", Channel: "general", Token: "xoxb-slack-token"}
	n := mustNotifier(t, c)

	for _, tc := range []struct {
		name     string
		severity string
		want     string
	}{
		{"info", event.SeverityInfo, `{"channel":"general","username":"kustomize-controller","icon_url":"","icon_emoji":"",
			"attachments":[{"color":"good","author_name":"kustomization/apps.flux-system",
			"text":"Reconciliation finished in 2s, next run in 10m","mrkdwn_in":["text"],
			"fields":[{"title":"revision","value":"main@sha1:5ad5c0e1","short":false},{"title":"summary","value":"prod cluster","short":false}]}]}`},
		{"error", event.SeverityError, `{"channel":"general","username":"kustomize-controller","icon_url":"","icon_emoji":"",
			"attachments":[{"color":"danger","author_name":"kustomization/apps.flux-system",
			"text":"Deployment/apps/web: timeout waiting for rollout","mrkdwn_in":["text"],
			"fields":[{"title":"revision","value":"main@sha1:5ad5c0e1","short":false},{"title":"summary","value":"prod cluster","short":false}]}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/services/T000/B000/hooksecret" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			assertHeader(t, r, "Authorization", "Bearer xoxb-slack-token")
			assertJSON(t, r.Body, tc.want)
		})
	}
}

func TestSlackUsernameAndNoToken(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "slack", Address: s.URL + "/hook", Username: "flux-bot"})
	if err := n.Post(t.Context(), chatTestEvent(event.SeverityInfo)); err != nil {
		t.Fatal(err)
	}
	r := s.only(t)
	assertHeader(t, r, "Authorization", "")
	var got slackMessage
	if err := jsonUnmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Username != "flux-bot" || got.Channel != "" {
		t.Errorf("got username %q channel %q", got.Username, got.Channel)
	}
}

// TestSlackPostMessageAnswer checks that chat.postMessage's {"ok": false} answers fail the
// delivery, permanently unless Slack may accept the message later.
func TestSlackPostMessageAnswer(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "slack", Address: s.URL + "/api/chat.postMessage", Channel: "C123", Token: "xoxb-slack-token"})
	for _, tc := range []struct {
		answer    string
		wantErr   bool
		retryable bool
	}{
		{`{"ok":true,"channel":"C123"}`, false, false},
		{`{"ok":false,"error":"channel_not_found"}`, true, false},
		{`{"ok":false,"error":"ratelimited"}`, true, true},
	} {
		s.answerWith(http.StatusOK, tc.answer)
		err := n.Post(t.Context(), chatTestEvent(event.SeverityInfo))
		if (err != nil) != tc.wantErr || (err != nil && Retryable(err) != tc.retryable) {
			t.Errorf("answer %s: got %v (retryable %v)", tc.answer, err, Retryable(err))
		}
		var he *HTTPError
		if errors.As(err, &he) {
			t.Errorf("answer %s: got an HTTPError for a 200 answer", tc.answer)
		}
	}
}

func TestSlackConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "slack"})
	assertConfigError(t, Config{Type: "slack", Address: "slack.com/api"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "slack", Address: s.URL + "/services/T000/B000/hooksecret", Token: "xoxb-slack-token"}, "hooksecret")
}
