package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("datadog", newDataDog) }

// dataDogNotifier posts an event to the Datadog Events API v1 of the site at the address
// (https://api.datadoghq.com, …) with the API key (the Secret's "token") in DD-API-KEY, as
// Datadog's Go client does for Flux.
type dataDogNotifier struct {
	c   Config
	url string
	hc  *http.Client
}

func newDataDog(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, Permanent(errors.New("datadog provider: token (API key) is required"))
	}
	u, _ := parseAddress(c.Address)
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &dataDogNotifier{c: c, url: u.Scheme + "://" + u.Host + "/api/v1/events", hc: hc}, nil
}

// dataDogEvent is the EventCreateRequest; Datadog's client writes its keys sorted.
type dataDogEvent struct {
	AlertType      string   `json:"alert_type"`
	DateHappened   int64    `json:"date_happened"`
	SourceTypeName string   `json:"source_type_name"`
	Tags           []string `json:"tags"`
	Text           string   `json:"text"`
	Title          string   `json:"title"`
}

func (d *dataDogNotifier) Post(ctx context.Context, e event.Event) error {
	o := e.InvolvedObject
	tags := []string{
		"flux_reporting_controller:" + e.ReportingController,
		"flux_reason:" + e.Reason,
		"kube_kind:" + o.Kind,
		"kube_name:" + o.Name,
		"kube_namespace:" + o.Namespace,
	}
	for _, k := range chatMetaKeys(e) {
		tags = append(tags, k+":"+e.Metadata[k])
	}
	// Datadog lower-cases tags; Flux does so first, for consistent events.
	for i := range tags {
		tags[i] = strings.ToLower(tags[i])
	}
	alertType := "info"
	if chatIsError(e) {
		alertType = "error"
	}
	ev := dataDogEvent{
		AlertType:      alertType,
		DateHappened:   e.Timestamp.Unix(),
		SourceTypeName: "fluxcd",
		Tags:           tags,
		Text:           e.Message,
		Title:          fmt.Sprintf("Events from the %s %s/%s", o.Kind, o.Name, o.Namespace),
	}
	headers := map[string]string{"Accept": "application/json", "DD-API-KEY": d.c.Token}
	if err := postJSON(ctx, d.hc, d.url, ev, headers); err != nil {
		return chatRedact(fmt.Errorf("post datadog event: %w", err), d.c)
	}
	return nil
}
