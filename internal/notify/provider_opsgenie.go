package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("opsgenie", newOpsgenie) }

// opsgenieNotifier creates an Opsgenie alert through the Alert API (the address,
// https://api.opsgenie.com/v2/alerts) with the API key (the Secret's "token").
type opsgenieNotifier struct {
	c  Config
	hc *http.Client
}

func newOpsgenie(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, Permanent(errors.New("opsgenie provider: token (API key) is required"))
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &opsgenieNotifier{c: c, hc: hc}, nil
}

type opsgenieAlert struct {
	Message     string            `json:"message"`
	Description string            `json:"description"`
	Details     map[string]string `json:"details"`
}

func (o *opsgenieNotifier) Post(ctx context.Context, e event.Event) error {
	details := make(map[string]string, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		details[k] = v
	}
	details["severity"] = e.Severity
	alert := opsgenieAlert{
		Message:     e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		Description: e.Message,
		Details:     details,
	}
	headers := map[string]string{"Authorization": "GenieKey " + o.c.Token}
	if err := postJSON(ctx, o.hc, o.c.Address, alert, headers); err != nil {
		return chatRedact(fmt.Errorf("create opsgenie alert: %w", err), o.c)
	}
	return nil
}
