package notify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("otel", newOTel) }

// The OTLP/HTTP request Flux's exporter (the OpenTelemetry Go SDK) sends.
const (
	otelTracesPath = "/v1/traces"
	otelUserAgent  = "OTel OTLP Exporter Go/1.40.0"
	otelSchemaURL  = "https://opentelemetry.io/schemas/1.40.0"
	otelScope      = "flux:notification-controller"
)

// AlertRef names the Alert an event is delivered for.
type AlertRef struct {
	Namespace, Name, UID string
}

type alertRefKey struct{}

// WithAlert returns ctx carrying the Alert that Post delivers for: the otel provider derives
// its trace IDs and service name from it, and refuses to post without it, as Flux does.
func WithAlert(ctx context.Context, a AlertRef) context.Context {
	return context.WithValue(ctx, alertRefKey{}, a)
}

func alertFrom(ctx context.Context) (AlertRef, bool) {
	a, ok := ctx.Value(alertRefKey{}).(AlertRef)
	return a, ok
}

// otelNotifier sends each event as one span over OTLP/HTTP (protobuf) to the collector at the
// address (path /v1/traces unless the address has one). The trace ID derives from the Alert
// and the revision, so that the events of one revision form one trace; the span ID from the
// object and the revision.
//
// It is built on the OTLP protobuf types weir already links rather than on the OpenTelemetry
// SDK and exporter, and sends what the exporter sends for Flux's one-span batches.
type otelNotifier struct {
	c       Config
	url     string
	headers map[string]string
	hc      *http.Client
	timeNow func() time.Time
}

func newOTel(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	u, _ := parseAddress(c.Address)
	p := u.EscapedPath()
	if p == "" {
		p = otelTracesPath
	}
	// Flux authenticates only when the Secret has headers, without an Authorization of their
	// own: with the Secret's username and password as basic credentials. (Without them, Flux
	// sends "Authorization: Bearer " with an empty token, which weir leaves out.)
	headers := map[string]string{"User-Agent": otelUserAgent}
	for k, v := range c.Headers {
		headers[http.CanonicalHeaderKey(k)] = v
	}
	if _, set := headers["Authorization"]; len(c.Headers) > 0 && !set {
		if user, password, ok := chatBasic(c); ok {
			headers["Authorization"] = "Basic " + chatBasicAuth(user, password)
		}
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &otelNotifier{c: c, url: u.Scheme + "://" + u.Host + p, headers: headers, hc: hc, timeNow: time.Now}, nil
}

func (o *otelNotifier) Post(ctx context.Context, e event.Event) error {
	alert, ok := alertFrom(ctx)
	if !ok {
		return Permanent(errors.New("otel provider: alert metadata not found in context"))
	}
	// Flux does not trace Helm repositories, which are no revision's source.
	if e.InvolvedObject.Kind == "HelmRepository" {
		return nil
	}
	rev := otelRevision(e)
	traceID := otelID(alert.UID, rev)[:16]
	spanID := otelID(string(e.InvolvedObject.UID), rev)[:8]

	status := &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	if chatIsError(e) {
		status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: e.Message}
	}
	obj := e.InvolvedObject
	span := &tracepb.Span{
		TraceId:           traceID,
		SpanId:            spanID,
		Flags:             uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK) | 1, // sampled
		Name:              fmt.Sprintf("%s: %s/%s", obj.Kind, obj.Namespace, obj.Name),
		Kind:              tracepb.Span_SPAN_KIND_INTERNAL,
		StartTimeUnixNano: otelNanos(e.Timestamp.Time),
		EndTimeUnixNano:   otelNanos(o.timeNow()),
		Attributes:        otelSpanAttributes(e),
		Status:            status,
	}
	data := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			otelString("service.instance.id", alert.UID),
			otelString("service.name", alert.Namespace+"/"+alert.Name),
			otelString("service.namespace", alert.Namespace),
		}},
		SchemaUrl:  otelSchemaURL,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: otelScope}, Spans: []*tracepb.Span{span}}},
	}}}
	// TracesData is, on the wire, the collector's ExportTraceServiceRequest.
	body, err := proto.Marshal(data)
	if err != nil {
		return Permanent(fmt.Errorf("encode otel span: %w", err))
	}
	_, err = do(ctx, o.hc, request{url: o.url, body: body, contentType: "application/x-protobuf", headers: o.headers})
	if err != nil {
		return chatRedactHeaders(chatRedact(fmt.Errorf("export otel span: %w", err), o.c), o.c.Headers)
	}
	return nil
}

// otelRevision is the revision Flux traces an event under: "unknown" without one; a source's
// revision (source-revision), else an OCI artifact's <app-version>@<digest>, else the
// event's revision.
func otelRevision(e event.Event) string {
	rev, ok := chatRevision(e)
	if !ok {
		return "unknown"
	}
	digest, hasDigest := e.Metadata["oci-digest"]
	app, hasApp := e.Metadata["app-version"]
	if src, ok := e.Metadata["source-revision"]; ok {
		return src
	}
	if hasDigest && hasApp {
		return app + "@" + digest
	}
	return rev
}

// otelID is the SHA-256 of "<uid>:<revision>", which trace and span IDs are cut from.
func otelID(uid, rev string) []byte {
	sum := sha256.Sum256([]byte(uid + ":" + rev))
	return sum[:]
}

// otelSpanAttributes are the object's reference, then the metadata; a later value replaces
// an earlier one of the same key.
func otelSpanAttributes(e event.Event) []*commonpb.KeyValue {
	o := e.InvolvedObject
	attrs := []*commonpb.KeyValue{
		otelString("object.uid", string(o.UID)),
		otelString("object.kind", o.Kind),
		otelString("object.name", o.Name),
		otelString("object.namespace", o.Namespace),
	}
	index := map[string]int{}
	for i, kv := range attrs {
		index[kv.Key] = i
	}
	for _, k := range chatMetaKeys(e) {
		if i, ok := index[k]; ok {
			attrs[i] = otelString(k, e.Metadata[k])
			continue
		}
		index[k] = len(attrs)
		attrs = append(attrs, otelString(k, e.Metadata[k]))
	}
	return attrs
}

func otelString(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func otelNanos(t time.Time) uint64 {
	if t.IsZero() || t.UnixNano() < 0 {
		return 0
	}
	return uint64(t.UnixNano())
}
