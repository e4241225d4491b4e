package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

const (
	// maxRequestSize bounds event and webhook bodies, as Flux's servers do (3 MiB).
	maxRequestSize = 3 << 20
	// maxMessage bounds an event's message (Flux's limit for what controllers send).
	maxMessage = 39_000
	// maxEventsInFlight bounds the events endpoint's concurrent requests.
	maxEventsInFlight = 32
)

// readBody reads r's body up to maxRequestSize: 413 beyond it, 400 when reading fails.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
	if err != nil {
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return nil, false
	}
	if len(body) > maxRequestSize {
		http.Error(w, fmt.Sprintf("request body exceeds the maximum size of %d bytes", maxRequestSize), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return body, true
}

// EventsHandler is the events endpoint of Flux's notification-controller (POST / with an
// event.toolkit.fluxcd.io event as JSON): other emitters (Flux's own controllers, Flagger,
// tf-controller) post there. It answers 202 when the event is taken, 429 for a duplicate
// within the rate-limit interval, 400 for a malformed event, 413 for an oversized one.
func (d *Dispatcher) EventsHandler() http.Handler {
	inFlight := make(chan struct{}, maxEventsInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			// Bounded memory under a flood: each request may hold a 3 MiB body.
			http.Error(w, "too many requests in flight", http.StatusServiceUnavailable)
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		var e event.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "decoding the request body failed", http.StatusBadRequest)
			return
		}
		if err := validEvent(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The sender waits (up to 10 s) for room in the delivery queue rather than losing its
		// event: back-pressure, where the bus's events may be dropped.
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		fresh, err := d.accept(ctx, e, true)
		switch {
		case !fresh:
			w.WriteHeader(http.StatusTooManyRequests)
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
}

// validEvent checks what dispatching needs of a posted event.
func validEvent(e *event.Event) error {
	o := e.InvolvedObject
	switch {
	case o.Kind == "" || o.Name == "" || o.Namespace == "":
		return fmt.Errorf("invalid event: involvedObject needs kind, name and namespace")
	case e.Severity != event.SeverityInfo && e.Severity != event.SeverityError:
		return fmt.Errorf("invalid event: severity %q is not info or error", e.Severity)
	case len(e.Message) > maxMessage:
		return fmt.Errorf("invalid event: message exceeds %d characters", maxMessage)
	}
	if e.Timestamp.IsZero() {
		e.Timestamp.Time = time.Now().UTC()
	}
	return nil
}
