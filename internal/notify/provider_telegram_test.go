package notify

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestTelegramMessage(t *testing.T) {
	s := newStandIn(t)
	for _, tc := range []struct {
		name, channel, severity string
		want                    map[string]string
	}{
		{"info to a chat", "@fluxcd", event.SeverityInfo, map[string]string{
			"chat_id": "@fluxcd", "parse_mode": "MarkdownV2",
			"text": "*💫 kustomization/apps/flux\\-system*\nReconciliation finished in 2s, next run in 10m\n" +
				"\\- *revision*: main@sha1:5ad5c0e1\n\\- *summary*: prod cluster\n",
		}},
		{"error to a forum topic", "-1001234567890:42", event.SeverityError, map[string]string{
			"chat_id": "-1001234567890", "message_thread_id": "42", "parse_mode": "MarkdownV2",
			"text": "*🚨 kustomization/apps/flux\\-system*\nDeployment/apps/web: timeout waiting for rollout\n" +
				"\\- *revision*: main@sha1:5ad5c0e1\n\\- *summary*: prod cluster\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := mustNotifier(t, Config{Type: "telegram", Address: s.URL, Channel: tc.channel, Token: "123456:tg-bot-token"})
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/bot123456:tg-bot-token/sendMessage" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/json")
			want, _ := json.Marshal(tc.want)
			assertJSON(t, r.Body, string(want))
		})
	}
}

func TestTelegramEscape(t *testing.T) {
	got := telegramEscape(`a.b-c_d[e](f)~g>h` + "`" + `#i+j=k|l{m}n!o*p\q`)
	want := `a\.b\-c\_d\[e\]\(f\)\~g\>h` + "\\`" + `\#i\+j\=k\|l\{m\}n\!o\*p\\q`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestTelegramDefaultAPI(t *testing.T) {
	// Flux builds the Bot API address itself; an address with a path is not a Bot API base.
	for _, addr := range []string{"", "https://api.telegram.org/bot123/sendMessage"} {
		n := mustNotifier(t, Config{Type: "telegram", Address: addr, Channel: "@fluxcd", Token: "123456:tg-bot-token"})
		if got := n.(*telegramNotifier).url; got != "https://api.telegram.org/bot123456:tg-bot-token/sendMessage" {
			t.Errorf("address %q: posts to %s", addr, got)
		}
	}
}

func TestTelegramConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "telegram", Token: "123456:tg-bot-token"})
	assertConfigError(t, Config{Type: "telegram", Channel: "@fluxcd"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "telegram", Address: s.URL, Channel: "@fluxcd", Token: "123456:tg-bot-token"})
}
