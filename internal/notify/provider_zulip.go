package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("zulip", newZulip) }

// zulipNotifier sends a stream message through the Zulip API of the server at the address
// (its path replaced by /api/v1/messages), to the "<channel>/<topic>" of spec.channel, as the
// bot whose email and API key are the Secret's username and password.
type zulipNotifier struct {
	c             Config
	url           string
	stream, topic string
	hc            *http.Client
}

func newZulip(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	stream, topic, ok := strings.Cut(c.Channel, "/")
	if !ok || stream == "" || topic == "" {
		return nil, Permanent(fmt.Errorf("zulip provider: invalid channel %q, want <channel>/<topic>", c.Channel))
	}
	u, _ := parseAddress(c.Address)
	u.Path, u.RawPath = "/api/v1/messages", ""
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &zulipNotifier{c: c, url: u.String(), stream: stream, topic: topic, hc: hc}, nil
}

func (z *zulipNotifier) Post(ctx context.Context, e event.Event) error {
	form := url.Values{
		"type":    {"stream"},
		"to":      {z.stream},
		"topic":   {z.topic},
		"content": {chatMarkdownPost(e)},
	}
	_, err := do(ctx, z.hc, request{
		url: z.url, body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded",
		user: chatUsername(z.c), password: zulipPassword(z.c),
	})
	if err != nil {
		return chatRedact(fmt.Errorf("send zulip message: %w", err), z.c)
	}
	return nil
}

// zulipPassword is the bot's API key: the Secret's password, with its username.
func zulipPassword(c Config) string {
	_, password, _ := chatBasic(c)
	return password
}
