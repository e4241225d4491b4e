package notification

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/faultpoint"
	"github.com/weirgitops/weir/internal/notify"
)

// Dispatcher matches events against Alerts and delivers them to the Alerts' Providers.
type Dispatcher struct {
	// Client reads Alerts and Providers (from the cache) and Secrets (from the API server).
	Client client.Client
	// Recorder records events on Alerts; it publishes to no bus.
	Recorder *event.Recorder
	// Bus is where weir's own controllers publish their events.
	Bus *event.Bus
	// NoCrossNamespaceRefs confines an Alert to events of its own namespace.
	NoCrossNamespaceRefs bool
	// Dedup suppresses duplicate events (Flux's rate limit).
	Dedup *Deduper
	Log   logr.Logger
	// Workers deliver concurrently (default 8); QueueSize bounds the deliveries waiting (default
	// 1024): past it, new deliveries are dropped and counted, never waited for.
	Workers, QueueSize int
	// Attempts is how many times a delivery is tried (default 5: Flux's one try and four
	// retries); Backoff the first retry delay (default 1s), doubling up to 30s.
	Attempts int
	Backoff  time.Duration
	// ConfigTTL is how long a Provider's resolved configuration (its Secrets read) is reused
	// (default 30s): a changed Provider is seen at once, a changed Secret within the TTL.
	ConfigTTL time.Duration

	once    sync.Once
	queue   chan delivery
	configs configCache
}

// delivery is one event on its way to one provider.
type delivery struct {
	notifier notify.Notifier
	event    event.Event
	alert    *notificationv1beta3.Alert
	provider string // namespace/name
	typ      string
	token    string
	timeout  time.Duration
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		if d.Workers <= 0 {
			d.Workers = 8
		}
		if d.QueueSize <= 0 {
			d.QueueSize = 1024
		}
		if d.Attempts <= 0 {
			d.Attempts = 5
		}
		if d.Backoff <= 0 {
			d.Backoff = time.Second
		}
		if d.ConfigTTL <= 0 {
			d.ConfigTTL = 30 * time.Second
		}
		if d.Dedup == nil {
			d.Dedup = &Deduper{}
		}
		d.queue = make(chan delivery, d.QueueSize)
	})
}

// Start consumes the bus and runs the delivery workers until ctx ends (a manager Runnable).
func (d *Dispatcher) Start(ctx context.Context) error {
	d.init()
	var events <-chan event.Event
	if d.Bus != nil {
		ch, stop := d.Bus.Subscribe(4096)
		defer stop()
		events = ch
	}
	var wg sync.WaitGroup
	for range d.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.work(ctx)
		}()
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			d.Accept(ctx, e)
		}
	}
}

// NeedLeaderElection is false: every replica serves the events endpoint, and only the leader's
// reconcilers publish on the bus.
func (d *Dispatcher) NeedLeaderElection() bool { return false }

// Accept takes one event from the bus: it returns false for a duplicate (suppressed), and
// otherwise dispatches it to the Alerts that select it, never waiting for room in the queue.
func (d *Dispatcher) Accept(ctx context.Context, e event.Event) bool {
	ok, _ := d.accept(ctx, e, false)
	return ok
}

// errQueueFull is a delivery that found no room in the queue in time.
var errQueueFull = errors.New("delivery queue full")

// accept is Accept; with wait, a delivery waits (until ctx ends) for room in the queue, and
// the error says when one could not be queued, so that an HTTP sender can retry.
func (d *Dispatcher) accept(ctx context.Context, e event.Event, wait bool) (bool, error) {
	d.init()
	cleanup(&e)
	key := dedupKey(&e)
	if !d.Dedup.First(key) {
		deliveries.WithLabelValues("", "", "", "duplicate").Inc()
		return false, nil
	}
	removeToken(&e)
	err := d.handle(ctx, e, wait)
	if err != nil {
		// Not delivered: the sender's retry must not count as a duplicate.
		d.Dedup.Forget(key)
	}
	return true, err
}

// handle dispatches e to every Alert that selects it; it returns errQueueFull when a delivery
// could not be queued.
func (d *Dispatcher) handle(ctx context.Context, e event.Event, wait bool) error {
	var alerts notificationv1beta3.AlertList
	if err := d.Client.List(ctx, &alerts); err != nil {
		d.Log.Error(err, "listing alerts failed")
		return nil
	}
	var full error
	for i := range alerts.Items {
		a := &alerts.Items[i]
		if a.Spec.Suspend || !d.matches(ctx, &e, a) {
			continue
		}
		if err := d.dispatch(ctx, e, a, wait); err != nil {
			if errors.Is(err, errQueueFull) {
				full = err
			}
			d.Recorder.Warning(a, "NotificationDispatchFailed", nil, "failed to dispatch notification for %s: %s", objectString(&e), err)
		}
	}
	return full
}

func objectString(e *event.Event) string {
	return e.InvolvedObject.Kind + "/" + e.InvolvedObject.Namespace + "/" + e.InvolvedObject.Name
}

// matches reports whether a selects e: an event source (kind, namespace, name or '*',
// matchLabels) and the severity, then the inclusion and exclusion lists on the message.
func (d *Dispatcher) matches(ctx context.Context, e *event.Event, a *notificationv1beta3.Alert) bool {
	selected := false
	for _, s := range a.Spec.EventSources {
		ns := s.Namespace
		if ns == "" {
			ns = a.Namespace
		}
		if e.InvolvedObject.Namespace != ns || e.InvolvedObject.Kind != s.Kind {
			continue
		}
		if e.Severity != a.Spec.EventSeverity && a.Spec.EventSeverity != event.SeverityInfo && a.Spec.EventSeverity != "" {
			continue
		}
		if s.Name != "*" && s.Name != e.InvolvedObject.Name {
			continue
		}
		if len(s.MatchLabels) > 0 && !d.labelsMatch(ctx, e, a, s.MatchLabels) {
			continue
		}
		selected = true
		break
	}
	if !selected {
		return false
	}
	if len(a.Spec.InclusionList) > 0 && !d.anyMatch(a, "inclusion", a.Spec.InclusionList, e.Message) {
		return false
	}
	return !d.anyMatch(a, "exclusion", a.Spec.ExclusionList, e.Message)
}

// anyMatch reports whether msg matches one of exprs; an expression that does not compile is
// reported on the Alert (InvalidConfig) and matches nothing.
func (d *Dispatcher) anyMatch(a *notificationv1beta3.Alert, list string, exprs []string, msg string) bool {
	for _, x := range exprs {
		re, err := regexp.Compile(x)
		if err != nil {
			d.Recorder.Warning(a, "InvalidConfig", nil, "failed to compile %s regex: %s", list, x)
			continue
		}
		if re.MatchString(msg) {
			return true
		}
	}
	return false
}

// labelsMatch reads the involved object's labels and matches them.
func (d *Dispatcher) labelsMatch(ctx context.Context, e *event.Event, a *notificationv1beta3.Alert, match map[string]string) bool {
	gv, err := schema.ParseGroupVersion(e.InvolvedObject.APIVersion)
	if err != nil {
		return false
	}
	var obj metav1.PartialObjectMetadata
	obj.SetGroupVersionKind(gv.WithKind(e.InvolvedObject.Kind))
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: e.InvolvedObject.Namespace, Name: e.InvolvedObject.Name}, &obj); err != nil {
		d.Recorder.Warning(a, "SourceFetchFailed", nil, "error getting source object %s", objectString(e))
		return false
	}
	return labels.SelectorFromSet(match).Matches(labels.Set(obj.GetLabels()))
}

// dispatch routes e to a's Provider, as Flux does: commit-status updates only to Git
// providers, Git providers only events with a commit key or commit-status updates, comment
// providers only events with a change request; then it queues the delivery.
func (d *Dispatcher) dispatch(ctx context.Context, e event.Event, a *notificationv1beta3.Alert, wait bool) error {
	if d.NoCrossNamespaceRefs && e.InvolvedObject.Namespace != a.Namespace {
		return fmt.Errorf("discarding event, access denied to cross-namespace sources: alert '%s/%s' can't process event from '%s', cross-namespace references have been blocked",
			a.Namespace, a.Name, objectString(&e))
	}
	var p notificationv1beta3.Provider
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.ProviderRef.Name}, &p); err != nil {
		return fmt.Errorf("failed to read provider: %w", err)
	}
	if p.Spec.Suspend {
		return nil
	}
	typ := p.Spec.Type
	switch {
	case !commitStatusTypes[typ] && isCommitStatusUpdate(&e):
		return nil
	case commitStatusTypes[typ] && !hasCommitKey(&e) && !isCommitStatusUpdate(&e):
		return nil
	case changeRequestTypes[typ] && !hasChangeRequestKey(&e):
		return nil
	}
	if p.Spec.ServiceAccountName != "" {
		return errors.New("spec.serviceAccountName (cloud workload identity) is not supported by weir")
	}
	n := e
	if conflicts := combine(&n, a.Spec.EventMetadata, a.Spec.Summary); len(conflicts) > 0 {
		d.Recorder.Warning(a, "MetadataAppendFailed", nil,
			"metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information): %s", strings.Join(conflicts, ", "))
	}
	cfg, err := d.config(ctx, &p)
	if err != nil {
		return fmt.Errorf("failed to initialize notifier for provider '%s': %w", p.Name, err)
	}
	if commitStatusTypes[typ] {
		if cfg.CommitStatus, err = commitStatus(&p, a, &n, cfg.expr); err != nil {
			return fmt.Errorf("failed to create commit status: %w", err)
		}
	}
	notifier, err := notify.New(cfg.Config)
	if err != nil {
		return fmt.Errorf("failed to initialize notifier for provider '%s': %w", p.Name, err)
	}
	dl := delivery{notifier: notifier, event: n, alert: a.DeepCopy(), provider: p.Namespace + "/" + p.Name, typ: typ,
		token: cfg.Token, timeout: cfg.Timeout}
	if wait {
		select {
		case d.queue <- dl:
			return nil
		case <-ctx.Done():
		}
	} else {
		select {
		case d.queue <- dl:
			return nil
		default:
		}
	}
	deliveries.WithLabelValues(p.Namespace, p.Name, typ, "dropped").Inc()
	return fmt.Errorf("%w (%d): notification to provider '%s' dropped", errQueueFull, cap(d.queue), p.Name)
}

// work delivers queued notifications until ctx ends.
func (d *Dispatcher) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case dl := <-d.queue:
			d.deliver(ctx, dl)
		}
	}
}

// deliver posts one notification, retrying what can be retried with a doubling backoff; the
// final failure is a Warning event on the Alert that names the provider and the answer.
func (d *Dispatcher) deliver(ctx context.Context, dl delivery) {
	// A worker goroutine: a panic would end the process. It fails this delivery only.
	defer func() {
		if r := recover(); r != nil {
			d.Log.Error(fmt.Errorf("%v", r), "panic while delivering a notification", "provider", dl.provider, "stack", string(debug.Stack()))
			d.Recorder.Warning(dl.alert, "NotificationDispatchFailed", nil, "failed to send notification for %s: internal error (panic), see the controller log", objectString(&dl.event))
		}
	}()
	faultpoint.Hit(faultpoint.EventForwarding)
	ns, name, _ := strings.Cut(dl.provider, "/")
	delay := d.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, dl.timeout)
		pctx = notify.WithAlert(pctx, notify.AlertRef{Namespace: dl.alert.Namespace, Name: dl.alert.Name, UID: string(dl.alert.UID)})
		err = dl.notifier.Post(pctx, dl.event)
		cancel()
		if err == nil {
			deliveries.WithLabelValues(ns, name, dl.typ, "success").Inc()
			return
		}
		if attempt >= d.Attempts || !notify.Retryable(err) || ctx.Err() != nil {
			break
		}
		retries.WithLabelValues(ns, name, dl.typ).Inc()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
	deliveries.WithLabelValues(ns, name, dl.typ, "failure").Inc()
	msg := err.Error()
	if dl.token != "" {
		msg = strings.ReplaceAll(msg, dl.token, "*****")
	}
	d.Log.Info("failed to send notification", "alert", dl.alert.Namespace+"/"+dl.alert.Name, "provider", dl.provider, "error", msg)
	d.Recorder.Warning(dl.alert, "NotificationDispatchFailed", nil, "failed to send notification for %s to Provider %s (%s): %s",
		objectString(&dl.event), name, dl.typ, msg)
}
