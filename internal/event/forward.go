package event

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-logr/logr"
)

// Forwarder posts the bus's events to an external Flux notification-controller (its events
// endpoint, `--events-addr` of Flux's controllers), in Flux's event JSON, so that weir's
// controllers can run beside Flux's notification-controller as Flux's own controllers do.
//
// It never slows a reconciler: it reads from its own bus subscription, and events beyond the
// subscription's buffer are dropped. Each event is tried a few times with a growing delay; a
// 429 answer (notification-controller's duplicate suppression) is final.
type Forwarder struct {
	// URL is the events endpoint, such as http://notification-controller.flux-system.svc/.
	URL string
	// Client sends the requests; its timeout bounds each try. Default: 5 s timeout.
	Client *http.Client
	// Attempts is how many times an event is tried; default 3.
	Attempts int
	// Backoff is the delay before the second try, doubled for each later one; default 500 ms.
	Backoff time.Duration
	Log     logr.Logger
}

// Run forwards the events of bus until ctx ends.
func (f *Forwarder) Run(ctx context.Context, bus *Bus) error {
	events, cancel := bus.Subscribe(1024)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			if err := f.Send(ctx, e); err != nil {
				f.Log.Info("cannot forward event", "error", err.Error(), "object", e.InvolvedObject.Kind+"/"+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name)
			}
		}
	}
}

// Send posts one event, retrying on connection errors and 5xx answers.
func (f *Forwarder) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	c := f.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	attempts, delay := max(f.Attempts, 1), f.Backoff
	if f.Attempts == 0 {
		attempts = 3
	}
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	for i := 1; ; i++ {
		retry, err := f.post(ctx, c, body)
		if err == nil || !retry || i >= attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (f *Forwarder) post(ctx context.Context, c *http.Client, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("post event: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return true, fmt.Errorf("post event: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300, resp.StatusCode == http.StatusTooManyRequests:
		return false, nil
	case resp.StatusCode >= 500:
		return true, fmt.Errorf("post event: %s", resp.Status)
	default:
		return false, fmt.Errorf("post event: %s", resp.Status)
	}
}
