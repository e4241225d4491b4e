package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("telegram", newTelegram) }

// telegramAPI is the Bot API Flux posts to.
const telegramAPI = "https://api.telegram.org"

// telegramNotifier calls the Bot API's sendMessage with the bot token (the Secret's "token")
// for the chat in spec.channel ("<chat>" or "<chat>:<topic>" for a forum topic), in
// MarkdownV2.
type telegramNotifier struct {
	c   Config
	url string
	hc  *http.Client
}

func newTelegram(c Config) (Notifier, error) {
	if c.Channel == "" {
		return nil, Permanent(errors.New("telegram provider: channel is required"))
	}
	if c.Token == "" {
		return nil, Permanent(errors.New("telegram provider: token is required"))
	}
	// Flux builds the address from the token. weir takes spec.address as the Bot API's base
	// when it is one (a scheme and host, such as a local Bot API server), and ignores other
	// addresses, as Flux does.
	base := telegramAPI
	if u, err := parseAddress(c.Address); c.Address != "" && err == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		base = u.Scheme + "://" + u.Host
	}
	addr, err := url.JoinPath(base, "bot"+c.Token, "sendMessage")
	if err != nil {
		return nil, Permanent(errors.New("telegram provider: invalid token"))
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &telegramNotifier{c: c, url: addr, hc: hc}, nil
}

type telegramMessage struct {
	ChatID          string `json:"chat_id"`
	MessageThreadID string `json:"message_thread_id,omitempty"`
	Text            string `json:"text"`
	ParseMode       string `json:"parse_mode"`
}

func (t *telegramNotifier) Post(ctx context.Context, e event.Event) error {
	o := e.InvolvedObject
	heading := fmt.Sprintf("%s %s/%s/%s", chatSeverityEmoji(e), strings.ToLower(o.Kind), o.Name, o.Namespace)
	var meta strings.Builder
	for _, k := range chatMetaKeys(e) {
		fmt.Fprintf(&meta, "\\- *%s*: %s\n", telegramEscape(k), telegramEscape(e.Metadata[k]))
	}
	chat, thread, _ := strings.Cut(t.c.Channel, ":")
	msg := telegramMessage{
		ChatID:          chat,
		MessageThreadID: thread,
		Text:            fmt.Sprintf("*%s*\n%s\n%s", telegramEscape(heading), telegramEscape(e.Message), meta.String()),
		ParseMode:       "MarkdownV2",
	}
	if err := postJSON(ctx, t.hc, t.url, msg, nil); err != nil {
		return chatRedact(fmt.Errorf("send telegram message: %w", err), t.c)
	}
	return nil
}

// telegramEscape puts a backslash before each character MarkdownV2 reserves.
func telegramEscape(s string) string {
	const reserved = "\\.-_[]()~>`#+=|{}!*"
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(reserved, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
