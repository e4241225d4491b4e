package event

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/redact"
)

// Severity of an event, as the notification API names it.
const (
	SeverityInfo  = "info"
	SeverityError = "error"
)

// maxMessage bounds event messages (Flux's notification payload limit is 39 000 characters).
const maxMessage = 39000

// Event is one event about an object, as delivered on the bus.
type Event struct {
	Object    client.Object
	Severity  string
	Reason    string
	Message   string
	Metadata  map[string]string
	Timestamp time.Time
	// Controller is the reporting controller, such as "kustomize-controller".
	Controller string
}

// Recorder records events for one controller.
type Recorder struct {
	rec        events.EventRecorder
	controller string
	group      string
	bus        *Bus
}

// NewRecorder returns a Recorder that reports as controller (Flux's name, for example
// "source-controller") about objects of the API group, through rec, and publishes to bus,
// which may be nil.
func NewRecorder(rec events.EventRecorder, controller, group string, bus *Bus) *Recorder {
	return &Recorder{rec: rec, controller: controller, group: group, bus: bus}
}

// Normal records an informational event.
func (r *Recorder) Normal(obj client.Object, reason string, metadata map[string]string, format string, args ...any) {
	r.record(obj, corev1.EventTypeNormal, reason, metadata, fmt.Sprintf(format, args...))
}

// Warning records an error event.
func (r *Recorder) Warning(obj client.Object, reason string, metadata map[string]string, format string, args ...any) {
	r.record(obj, corev1.EventTypeWarning, reason, metadata, fmt.Sprintf(format, args...))
}

func (r *Recorder) record(obj client.Object, typ, reason string, metadata map[string]string, msg string) {
	msg = redact.Text(msg)
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-3] + "..."
	}
	if r.rec != nil {
		r.rec.Eventf(obj, nil, typ, reason, reason, "%s", msg)
	}
	if r.bus != nil {
		sev := SeverityInfo
		if typ == corev1.EventTypeWarning {
			sev = SeverityError
		}
		r.bus.publish(Event{
			Object: obj, Severity: sev, Reason: reason, Message: msg,
			Metadata: prefixed(r.group, metadata), Timestamp: time.Now().UTC(), Controller: r.controller,
		})
	}
}

// prefixed returns metadata with keys prefixed by the object's API group, as Flux sends them
// ("kustomize.toolkit.fluxcd.io/revision").
func prefixed(group string, metadata map[string]string) map[string]string {
	if len(metadata) == 0 {
		return nil
	}
	out := make(map[string]string, len(metadata))
	for k, v := range metadata {
		if group != "" {
			k = group + "/" + k
		}
		out[k] = v
	}
	return out
}

// Bus fans events out to in-process subscribers without blocking the publisher: a subscriber
// that falls behind loses events beyond its buffer, never the reconciler's time.
type Bus struct {
	mu   sync.RWMutex
	subs []chan Event
}

// Subscribe returns a channel of events with the given buffer.
func (b *Bus) Subscribe(buffer int) <-chan Event {
	ch := make(chan Event, buffer)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	return ch
}

func (b *Bus) publish(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
