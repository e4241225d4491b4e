package notify

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("discord", newDiscord) }

// discordNotifier posts a Slack-shaped message to the Slack-compatible endpoint of a
// Discord webhook (its address with "/slack" appended). Discord's webhook decides the
// channel: spec.channel is not sent.
type discordNotifier struct {
	c   Config
	url string
	hc  *http.Client
}

func newDiscord(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	u, _ := parseAddress(c.Address)
	addr := c.Address
	if !strings.HasSuffix(addr, "/slack") {
		u.Path = path.Join(u.Path, "slack")
		addr = u.String()
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &discordNotifier{c: c, url: addr, hc: hc}, nil
}

func (d *discordNotifier) Post(ctx context.Context, e event.Event) error {
	username := chatUsername(d.c)
	if username == "" {
		username = e.ReportingController
	}
	if err := postJSON(ctx, d.hc, d.url, slackShaped(e, "", username, slackColor(e)), nil); err != nil {
		return chatRedact(fmt.Errorf("post discord message: %w", err), d.c)
	}
	return nil
}
