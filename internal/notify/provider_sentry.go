package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("sentry", newSentry) }

// sentryClient names weir in the envelope and the X-Sentry-Auth header (Flux sends the
// sentry-go SDK's name and version).
const (
	sentryClientName    = "weir.notify"
	sentryClientVersion = "1"
)

// sentryNotifier sends events to the Sentry project of the DSN (the address) through its
// envelope endpoint, in the environment named by spec.channel: an error event becomes a
// Sentry error event, an info event a transaction, as Flux records them.
type sentryNotifier struct {
	c       Config
	dsn     string
	url     string
	auth    string
	hc      *http.Client
	newID   func(n int) string
	timeNow func() time.Time
}

func newSentry(c Config) (Notifier, error) {
	if c.Address == "" {
		return nil, Permanent(errors.New("sentry provider: address (DSN) is required"))
	}
	u, err := parseAddress(c.Address)
	if err != nil {
		return nil, err
	}
	// The DSN is {scheme}://{public key}[:{secret key}]@{host}{path}/{project ID}.
	key := u.User.Username()
	secret, _ := u.User.Password()
	i := strings.LastIndex(u.Path, "/")
	project := u.Path[i+1:]
	if key == "" || project == "" {
		return nil, Permanent(fmt.Errorf("sentry provider: invalid DSN %s: want a public key and a project ID", redactURL(c.Address)))
	}
	api := fmt.Sprintf("%s://%s%s/api/%s/envelope/", u.Scheme, u.Host, u.Path[:i], url.PathEscape(project))
	auth := fmt.Sprintf("Sentry sentry_version=7, sentry_client=%s/%s, sentry_key=%s", sentryClientName, sentryClientVersion, key)
	if secret != "" {
		auth += ", sentry_secret=" + secret
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &sentryNotifier{c: c, dsn: c.Address, url: api, auth: auth, hc: hc, newID: sentryID, timeNow: time.Now}, nil
}

// sentryID is n random bytes in hex: event IDs are 16, trace IDs 16, span IDs 8.
func sentryID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type sentrySDK struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// sentryEvent is the part of Sentry's event (and transaction) payload that Flux fills.
type sentryEvent struct {
	EventID        string            `json:"event_id"`
	Type           string            `json:"type,omitempty"`
	Level          string            `json:"level,omitempty"`
	Platform       string            `json:"platform"`
	SDK            sentrySDK         `json:"sdk"`
	Environment    string            `json:"environment,omitempty"`
	ServerName     string            `json:"server_name,omitempty"`
	Transaction    string            `json:"transaction,omitempty"`
	Message        string            `json:"message,omitempty"`
	Extra          map[string]any    `json:"extra,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Contexts       map[string]any    `json:"contexts,omitempty"`
	Timestamp      time.Time         `json:"timestamp"`
	StartTimestamp *time.Time        `json:"start_timestamp,omitempty"`
	Spans          []sentrySpan      `json:"spans,omitempty"`
}

type sentrySpan struct {
	TraceID        string            `json:"trace_id"`
	SpanID         string            `json:"span_id"`
	Op             string            `json:"op"`
	Origin         string            `json:"origin"`
	Tags           map[string]string `json:"tags,omitempty"`
	StartTimestamp time.Time         `json:"start_timestamp"`
	Timestamp      time.Time         `json:"timestamp"`
}

func (s *sentryNotifier) Post(ctx context.Context, e event.Event) error {
	o := e.InvolvedObject
	ev := sentryEvent{
		EventID:     s.newID(16),
		Platform:    "go",
		SDK:         sentrySDK{Name: sentryClientName, Version: sentryClientVersion},
		Environment: s.c.Channel,
		Transaction: fmt.Sprintf("%s: %s/%s", o.Kind, o.Namespace, o.Name),
		Message:     e.Message,
		Timestamp:   e.Timestamp.Time,
	}
	itemType := "event"
	switch e.Severity {
	case event.SeverityError:
		ev.Level = "error"
		ev.ServerName = e.ReportingController
		ev.Extra = make(map[string]any, len(e.Metadata))
		for k, v := range e.Metadata {
			ev.Extra[k] = v
		}
	case event.SeverityInfo:
		// An info event is a transaction of one span, tagged with the object and the metadata.
		itemType = "transaction"
		tags := map[string]string{
			"flux_involved_object_kind":      o.Kind,
			"flux_involved_object_namespace": o.Namespace,
			"flux_involved_object_name":      o.Name,
			"flux_reporting_controller":      e.ReportingController,
			"flux_reporting_instance":        e.ReportingInstance,
			"flux_reason":                    e.Reason,
		}
		for k, v := range e.Metadata {
			tags[k] = v
		}
		span := sentrySpan{
			TraceID: s.newID(16), SpanID: s.newID(8), Op: "event", Origin: "manual", Tags: tags,
			StartTimestamp: e.Timestamp.Time, Timestamp: e.Timestamp.Time,
		}
		start := e.Timestamp.Time
		ev.Type, ev.Tags, ev.StartTimestamp, ev.Spans = "transaction", tags, &start, []sentrySpan{span}
		ev.Contexts = map[string]any{"trace": map[string]string{"trace_id": span.TraceID, "span_id": span.SpanID, "op": span.Op}}
	default:
		// Flux sends nothing for other severities.
		return nil
	}
	body, err := s.envelope(ev, itemType)
	if err != nil {
		return err
	}
	_, err = do(ctx, s.hc, request{
		url: s.url, body: body, contentType: "application/x-sentry-envelope",
		headers: map[string]string{"X-Sentry-Auth": s.auth, "User-Agent": sentryClientName + "/" + sentryClientVersion},
	})
	if err != nil {
		return redactSentry(fmt.Errorf("send sentry %s: %w", itemType, err), s.c)
	}
	return nil
}

// envelope is the envelope of one item: its header line, the item's header and payload.
func (s *sentryNotifier) envelope(ev sentryEvent, itemType string) ([]byte, error) {
	payload, err := chatJSON(ev)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	header := struct {
		EventID string    `json:"event_id"`
		SentAt  time.Time `json:"sent_at"`
		DSN     string    `json:"dsn"`
		SDK     sentrySDK `json:"sdk"`
	}{ev.EventID, s.timeNow().UTC(), s.dsn, ev.SDK}
	item := struct {
		Type   string `json:"type"`
		Length int    `json:"length"`
	}{itemType, len(payload)}
	if err := enc.Encode(header); err != nil {
		return nil, Permanent(fmt.Errorf("encode sentry envelope: %w", err))
	}
	if err := enc.Encode(item); err != nil {
		return nil, Permanent(fmt.Errorf("encode sentry envelope: %w", err))
	}
	b.Write(payload)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// redactSentry keeps the DSN's keys out of err's message.
func redactSentry(err error, c Config) error {
	values := []string{c.Token, c.BasicPassword}
	if u, perr := url.Parse(c.Address); perr == nil && u.User != nil {
		values = append(values, u.User.Username())
		if p, ok := u.User.Password(); ok {
			values = append(values, p)
		}
	}
	return chatRedactValues(err, values...)
}
