package notify

import (
	"context"
	"fmt"
	"net/http"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("rocket", newRocket) }

// rocketNotifier posts a Slack-shaped message to a Rocket.Chat incoming webhook, with the
// channel and user name as configured (Rocket.Chat's defaults when empty).
type rocketNotifier struct {
	c  Config
	hc *http.Client
}

func newRocket(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &rocketNotifier{c: c, hc: hc}, nil
}

func (r *rocketNotifier) Post(ctx context.Context, e event.Event) error {
	color := "#0076D7"
	if chatIsError(e) {
		color = "#FF0000"
	}
	msg := slackShaped(e, r.c.Channel, chatUsername(r.c), color)
	if err := postJSON(ctx, r.hc, r.c.Address, msg, nil); err != nil {
		return chatRedact(fmt.Errorf("post rocket message: %w", err), r.c)
	}
	return nil
}
