package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("slack", newSlack) }

// slackNotifier posts to a Slack incoming webhook or to the chat.postMessage API (with the
// bot token as bearer).
type slackNotifier struct {
	c  Config
	hc *http.Client
}

func newSlack(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &slackNotifier{c: c, hc: hc}, nil
}

func (s *slackNotifier) Post(ctx context.Context, e event.Event) error {
	username := chatUsername(s.c)
	if username == "" {
		username = e.ReportingController
	}
	body, err := json.Marshal(slackShaped(e, s.c.Channel, username, slackColor(e)))
	if err != nil {
		return Permanent(fmt.Errorf("encode slack message: %w", err))
	}
	headers := map[string]string{}
	if s.c.Token != "" {
		headers["Authorization"] = "Bearer " + s.c.Token
	}
	resp, err := do(ctx, s.hc, request{url: s.c.Address, body: body, contentType: "application/json", headers: headers})
	if err != nil {
		return chatRedact(fmt.Errorf("post slack message: %w", err), s.c)
	}
	if isSlackAPI(s.c.Address) {
		return chatRedact(slackAPIResult(resp), s.c)
	}
	return nil
}

// isSlackAPI reports whether addr is Slack's chat.postMessage method, which answers 200 with
// {"ok": false, "error": …} on failure (incoming webhooks answer with HTTP statuses).
func isSlackAPI(addr string) bool {
	u, err := parseAddress(addr)
	return err == nil && strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/chat.postMessage")
}

// slackRetryable are the chat.postMessage errors that a later attempt may not get.
var slackRetryable = map[string]bool{
	"ratelimited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

// slackAPIResult reads a chat.postMessage answer.
func slackAPIResult(body []byte) error {
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("read slack answer: %w", err)
	}
	if r.OK {
		return nil
	}
	err := fmt.Errorf("slack answered with error: %s", r.Error)
	if slackRetryable[r.Error] {
		return err
	}
	return Permanent(err)
}
