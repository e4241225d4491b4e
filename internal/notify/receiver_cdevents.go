package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

func init() { registerReceiver("cdevents", validateCDEventsReceiver) }

// cdEventsV04Types are the event types of the CDEvents 0.4 specification, which Flux's
// receiver parses, unversioned ("<subject>.<predicate>"), with the version of each.
var cdEventsV04Types = map[string]string{
	"artifact.deleted": "0.1.0", "artifact.downloaded": "0.1.0", "artifact.packaged": "0.2.0",
	"artifact.published": "0.2.0", "artifact.signed": "0.2.0",
	"branch.created": "0.2.0", "branch.deleted": "0.2.0",
	"build.finished": "0.2.0", "build.queued": "0.2.0", "build.started": "0.2.0",
	"change.abandoned": "0.2.0", "change.created": "0.3.0", "change.merged": "0.2.0",
	"change.reviewed": "0.2.0", "change.updated": "0.2.0",
	"environment.created": "0.2.0", "environment.deleted": "0.2.0", "environment.modified": "0.2.0",
	"incident.detected": "0.2.0", "incident.reported": "0.2.0", "incident.resolved": "0.2.0",
	"pipelinerun.finished": "0.2.0", "pipelinerun.queued": "0.2.0", "pipelinerun.started": "0.2.0",
	"repository.created": "0.2.0", "repository.deleted": "0.2.0", "repository.modified": "0.2.0",
	"service.deployed": "0.2.0", "service.published": "0.2.0", "service.removed": "0.2.0",
	"service.rolledback": "0.2.0", "service.upgraded": "0.2.0",
	"taskrun.finished": "0.2.0", "taskrun.started": "0.2.0",
	"testcaserun.finished": "0.2.0", "testcaserun.queued": "0.2.0", "testcaserun.skipped": "0.1.0",
	"testcaserun.started": "0.2.0", "testoutput.published": "0.2.0",
	"testsuiterun.finished": "0.2.0", "testsuiterun.queued": "0.2.0", "testsuiterun.started": "0.2.0",
	"ticket.closed": "0.1.0", "ticket.created": "0.1.0", "ticket.updated": "0.1.0",
}

// cdEvent is the envelope every CDEvent shares.
type cdEvent struct {
	Context *struct {
		SpecVersion string `json:"specversion"`
		ID          string `json:"id"`
		Source      string `json:"source"`
		Type        string `json:"type"`
		Timestamp   string `json:"timestamp"`
	} `json:"context"`
	Subject *struct {
		ID      string          `json:"id"`
		Content json.RawMessage `json:"content"`
	} `json:"subject"`
}

// validateCDEventsReceiver accepts a CDEvent (sent as a CloudEvent in binary mode): the body
// must be a CDEvent of a type the 0.4 specification defines, and its Ce-Type header one of
// the Receiver's events.
func validateCDEventsReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	if err := checkCDEvent(w.Body); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "unable to validate CDEvent event: %w", err)
	}
	return receiverAccepted(spec, w.Header.Get("Ce-Type"), w.Header, w.Body), nil
}

// checkCDEvent checks b's envelope: the context's required fields, its type (known to the
// 0.4 specification, at the version it defines: same major and minor, any patch) and a
// subject with an id and an object content.
func checkCDEvent(b []byte) error {
	var e cdEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	if e.Context == nil {
		return errors.New("missing context")
	}
	c := e.Context
	for _, f := range []struct{ name, value string }{
		{"specversion", c.SpecVersion}, {"id", c.ID}, {"source", c.Source}, {"type", c.Type}, {"timestamp", c.Timestamp},
	} {
		if f.value == "" {
			return fmt.Errorf("context.%s is required", f.name)
		}
	}
	if _, err := time.Parse(time.RFC3339, c.Timestamp); err != nil {
		return fmt.Errorf("context.timestamp %q is not an RFC 3339 time", c.Timestamp)
	}
	if err := checkCDEventType(c.Type); err != nil {
		return err
	}
	if e.Subject == nil || e.Subject.ID == "" {
		return errors.New("subject.id is required")
	}
	var content map[string]any
	if err := json.Unmarshal(e.Subject.Content, &content); err != nil || content == nil {
		return errors.New("subject.content must be an object")
	}
	return nil
}

// checkCDEventType checks "dev.cdevents.<subject>.<predicate>.<version>".
func checkCDEventType(t string) error {
	rest, ok := strings.CutPrefix(t, "dev.cdevents.")
	parts := strings.SplitN(rest, ".", 3)
	if !ok || len(parts) != 3 {
		return fmt.Errorf("cannot parse event type %s", t)
	}
	known, ok := cdEventsV04Types[parts[0]+"."+parts[1]]
	if !ok {
		return fmt.Errorf("unknown event type %s", t)
	}
	got, err := semver.StrictNewVersion(parts[2])
	if err != nil {
		return fmt.Errorf("cannot parse event type %s: %w", t, err)
	}
	want := semver.MustParse(known)
	if got.Major() != want.Major() || got.Minor() != want.Minor() {
		return fmt.Errorf("unsupported version of event type %s: want %d.%d.x", t, want.Major(), want.Minor())
	}
	return nil
}
