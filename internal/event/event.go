package event

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/weirgitops/weir/internal/redact"
)

// Severity of an event, as the notification API names it.
const (
	SeverityInfo  = "info"
	SeverityError = "error"
)

// EventGroup is the API group of Flux's event metadata keys that objects' annotations carry
// ("event.toolkit.fluxcd.io/<key>").
const EventGroup = "event.toolkit.fluxcd.io"

// maxMessage bounds event messages (Flux's notification payload limit is 39 000 characters).
const maxMessage = 39000

// Event is one event about an object, in the shape of Flux's event API
// (event.toolkit.fluxcd.io/v1beta1 Event): what the notification-controller's events endpoint
// accepts, and what the bus delivers. It holds no pointer to the live object: subscribers get
// a copy that the reconciler never changes afterwards.
type Event struct {
	InvolvedObject corev1.ObjectReference `json:"involvedObject"`
	Severity       string                 `json:"severity"`
	Timestamp      metav1.Time            `json:"timestamp"`
	Message        string                 `json:"message"`
	Reason         string                 `json:"reason"`
	// Metadata keys are prefixed with the object's API group, as Flux's controllers send them
	// ("kustomize.toolkit.fluxcd.io/revision").
	Metadata map[string]string `json:"metadata,omitempty"`
	// ReportingController is Flux's controller name, such as "kustomize-controller".
	ReportingController string `json:"reportingController"`
	ReportingInstance   string `json:"reportingInstance,omitempty"`
}

// Recorder records events for one controller.
type Recorder struct {
	rec        record.EventRecorder
	controller string
	group      string
	bus        *Bus
	// instance is the reporting instance, the host name (Flux's controllers send the Pod name).
	instance string
	scheme   *runtime.Scheme
}

// NewRecorder returns a Recorder that reports as controller (Flux's name, for example
// "source-controller") about objects of the API group, known to scheme, through rec (which may
// be nil), and publishes to bus, which may be nil.
func NewRecorder(rec record.EventRecorder, scheme *runtime.Scheme, controller, group string, bus *Bus) *Recorder {
	host, _ := os.Hostname()
	return &Recorder{rec: rec, controller: controller, group: group, bus: bus, instance: host, scheme: scheme}
}

// Normal records an informational event.
func (r *Recorder) Normal(obj client.Object, reason string, metadata map[string]string, format string, args ...any) {
	r.record(obj, corev1.EventTypeNormal, reason, metadata, fmt.Sprintf(format, args...))
}

// Warning records an error event.
func (r *Recorder) Warning(obj client.Object, reason string, metadata map[string]string, format string, args ...any) {
	r.record(obj, corev1.EventTypeWarning, reason, metadata, fmt.Sprintf(format, args...))
}

// reference names obj as the event's involved object, its kind and API version from the
// scheme (objects read from a cache carry no type meta).
func (r *Recorder) reference(obj client.Object) corev1.ObjectReference {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if r.scheme != nil {
		if g, err := apiutil.GVKForObject(obj, r.scheme); err == nil {
			gvk = g
		}
	}
	return corev1.ObjectReference{
		Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Namespace: obj.GetNamespace(),
		Name: obj.GetName(), UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
	}
}

func (r *Recorder) record(obj client.Object, typ, reason string, metadata map[string]string, msg string) {
	msg = redact.Text(msg)
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-3] + "..."
	}
	meta := prefixed(r.group, metadata)
	// Annotations of the object under Flux's event group travel with its events (Flux's
	// recorder copies them), for Alerts to use as metadata.
	for k, v := range obj.GetAnnotations() {
		if strings.HasPrefix(k, EventGroup+"/") {
			if meta == nil {
				meta = map[string]string{}
			}
			meta[k] = v
		}
	}
	if r.rec != nil {
		// Kubernetes Events carry the metadata as annotations, as Flux's controllers write them.
		r.rec.AnnotatedEventf(obj, meta, typ, reason, "%s", msg)
	}
	if r.bus != nil {
		sev := SeverityInfo
		if typ == corev1.EventTypeWarning {
			sev = SeverityError
		}
		r.bus.publish(Event{
			InvolvedObject: r.reference(obj), Severity: sev, Reason: reason, Message: msg,
			Metadata: meta, Timestamp: metav1.NewTime(time.Now().UTC()),
			ReportingController: r.controller, ReportingInstance: r.instance,
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
	subs map[chan Event]struct{}
}

// Subscribe returns a channel of events with the given buffer, and the function that ends the
// subscription and closes the channel.
func (b *Bus) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan Event]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}

// publish gives every subscriber its own copy of e (metadata included).
func (b *Bus) publish(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for ch := range b.subs {
		c := e
		c.Metadata = maps.Clone(e.Metadata)
		select {
		case ch <- c:
		default:
		}
	}
}
