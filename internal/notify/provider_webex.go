package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("webex", newWebex) }

// webexNotifier posts a Markdown message to the Webex messages API (the address,
// https://webexapis.com/v1/messages) for the room in spec.channel, with the bot's access
// token as bearer.
type webexNotifier struct {
	c  Config
	hc *http.Client
}

func newWebex(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &webexNotifier{c: c, hc: hc}, nil
}

func (w *webexNotifier) Post(ctx context.Context, e event.Event) error {
	emoji := "✅"
	if chatIsError(e) {
		emoji = "💣"
	}
	var md strings.Builder
	fmt.Fprintf(&md, "%s **%s**\n", emoji, chatObjectName(e))
	fmt.Fprintf(&md, "%s\n", e.Message)
	for _, k := range chatMetaKeys(e) {
		fmt.Fprintf(&md, ">**%s**: %s\n", k, e.Metadata[k])
	}
	msg := struct {
		RoomID   string `json:"roomId,omitempty"`
		Markdown string `json:"markdown,omitempty"`
	}{RoomID: w.c.Channel, Markdown: md.String()}
	headers := map[string]string{"Authorization": "Bearer " + w.c.Token}
	if err := postJSON(ctx, w.hc, w.c.Address, msg, headers); err != nil {
		return chatRedact(fmt.Errorf("post webex message: %w", err), w.c)
	}
	return nil
}
