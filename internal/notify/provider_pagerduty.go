package notify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("pagerduty", newPagerDuty) }

// pagerDutyNotifier sends Events API v2 events to the scheme and host of the address
// (https://events.pagerduty.com) with the integration's routing key in spec.channel: an
// error triggers an incident keyed by the object's UID, an info event resolves it and records
// a change event. Progressing events are not sent.
type pagerDutyNotifier struct {
	c        Config
	endpoint string
	hc       *http.Client
}

func newPagerDuty(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	u, _ := parseAddress(c.Address)
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &pagerDutyNotifier{c: c, endpoint: u.Scheme + "://" + u.Host, hc: hc}, nil
}

// pagerDutyEvent is an Events API v2 event.
type pagerDutyEvent struct {
	RoutingKey string            `json:"routing_key"`
	Action     string            `json:"event_action"`
	DedupKey   string            `json:"dedup_key,omitempty"`
	Payload    *pagerDutyPayload `json:"payload,omitempty"`
}

type pagerDutyPayload struct {
	Summary   string         `json:"summary"`
	Source    string         `json:"source"`
	Severity  string         `json:"severity"`
	Timestamp string         `json:"timestamp,omitempty"`
	Component string         `json:"component,omitempty"`
	Group     string         `json:"group,omitempty"`
	Details   map[string]any `json:"custom_details,omitempty"`
}

// pagerDutyChange is a change event; its links are sent as null, as Flux sends them.
type pagerDutyChange struct {
	RoutingKey string                 `json:"routing_key"`
	Payload    pagerDutyChangePayload `json:"payload"`
	Links      []struct{}             `json:"links"`
}

type pagerDutyChangePayload struct {
	Source        string         `json:"source"`
	Summary       string         `json:"summary"`
	Timestamp     string         `json:"timestamp"`
	CustomDetails map[string]any `json:"custom_details"`
}

func (p *pagerDutyNotifier) Post(ctx context.Context, e event.Event) error {
	if e.Reason == reasonProgressing {
		return nil
	}
	// The object and the reason in words, as Flux's commit statuses name them.
	summary := commitStatusDescription(e) + ": " + commitStatusName(e)
	source := "Flux " + e.ReportingController
	timestamp := e.Timestamp.Format(time.RFC3339)
	details := map[string]any{"message": e.Message, "metadata": e.Metadata}

	ev := pagerDutyEvent{RoutingKey: p.c.Channel, Action: "resolve", DedupKey: string(e.InvolvedObject.UID)}
	if chatIsError(e) {
		ev.Action = "trigger"
		ev.Payload = &pagerDutyPayload{
			Summary: summary, Source: source, Severity: "error", Timestamp: timestamp,
			Component: e.InvolvedObject.Name, Group: e.InvolvedObject.Kind, Details: details,
		}
	}
	if err := postJSON(ctx, p.hc, p.endpoint+"/v2/enqueue", ev, nil); err != nil {
		return chatRedact(fmt.Errorf("send pagerduty event: %w", err), p.c)
	}
	if e.Severity == event.SeverityInfo {
		change := pagerDutyChange{RoutingKey: p.c.Channel, Payload: pagerDutyChangePayload{
			Source: source, Summary: summary, Timestamp: timestamp, CustomDetails: details,
		}}
		if err := postJSON(ctx, p.hc, p.endpoint+"/v2/change/enqueue", change, nil); err != nil {
			return chatRedact(fmt.Errorf("send pagerduty change event: %w", err), p.c)
		}
	}
	return nil
}
