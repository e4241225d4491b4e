package notify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("alertmanager", newAlertmanager) }

// alertmanagerNotifier posts a firing alert to the Alertmanager API at the address
// (…/api/v2/alerts), authenticated with the token as bearer or with the Secret's username and
// password.
type alertmanagerNotifier struct {
	c  Config
	hc *http.Client
}

func newAlertmanager(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &alertmanagerNotifier{c: c, hc: hc}, nil
}

// alertmanagerAlert is a postable alert. Flux leaves endsAt unset, which it sends as the zero
// time: Alertmanager then resolves the alert after its resolve_timeout.
type alertmanagerAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt"`
}

func (a *alertmanagerNotifier) Post(ctx context.Context, e event.Event) error {
	annotations := map[string]string{"message": e.Message}
	labels := make(map[string]string, len(e.Metadata)+7)
	for k, v := range e.Metadata {
		if k == metaSummary {
			annotations[metaSummary] = v
			continue
		}
		labels[k] = v
	}
	o := e.InvolvedObject
	labels["alertname"] = "Flux" + o.Kind + titleCase(e.Reason)
	labels["severity"] = e.Severity
	labels["reason"] = e.Reason
	labels["kind"] = o.Kind
	labels["name"] = o.Name
	labels["namespace"] = o.Namespace
	labels["reportingcontroller"] = e.ReportingController

	alerts := []alertmanagerAlert{{
		Status: "firing", Labels: labels, Annotations: annotations,
		StartsAt: e.Timestamp.Format(time.RFC3339), EndsAt: time.Time{}.Format(time.RFC3339),
	}}
	r := request{contentType: "application/json", url: a.c.Address, headers: map[string]string{}}
	if a.c.Token != "" {
		r.headers["Authorization"] = "Bearer " + a.c.Token
	}
	if user, password, ok := chatBasic(a.c); ok {
		// Basic authentication replaces the bearer token, as in Flux.
		r.user, r.password = user, password
	}
	body, err := chatJSON(alerts)
	if err != nil {
		return err
	}
	r.body = body
	if _, err := do(ctx, a.hc, r); err != nil {
		return chatRedact(fmt.Errorf("post alertmanager alert: %w", err), a.c)
	}
	return nil
}
