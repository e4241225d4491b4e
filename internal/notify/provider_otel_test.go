package notify

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weirgitops/weir/internal/event"
)

var otelTestAlert = AlertRef{Namespace: "flux-system", Name: "traces", UID: "5f1c2d3e-alert"}

func otelTestContext(t *testing.T) context.Context {
	return WithAlert(t.Context(), otelTestAlert)
}

// otelAttrs is a KeyValue list as ordered pairs of strings.
func otelAttrs(kvs []*commonpb.KeyValue) [][2]string {
	out := make([][2]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, [2]string{kv.Key, kv.GetValue().GetStringValue()})
	}
	return out
}

func TestOTelSpan(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "otel", Address: s.URL, Headers: map[string]string{"X-Scope-OrgID": "tenant-1"},
		BasicUsername: "otel-user", BasicPassword: "otel-password"}).(*otelNotifier)
	end := chatTestTime.Add(3 * time.Second)
	n.timeNow = func() time.Time { return end }

	traceSum := sha256.Sum256([]byte(otelTestAlert.UID + ":main@sha1:5ad5c0e1"))
	spanSum := sha256.Sum256([]byte("0cd9e5b2-1f4a-4d21-9e0e-7d0c58a1e2b3:main@sha1:5ad5c0e1"))
	for _, tc := range []struct {
		severity string
		status   *tracepb.Status
	}{
		{event.SeverityInfo, &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}},
		{event.SeverityError, &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "Deployment/apps/web: timeout waiting for rollout"}},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			if err := n.Post(otelTestContext(t), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/v1/traces" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/x-protobuf")
			assertHeader(t, r, "User-Agent", otelUserAgent)
			assertHeader(t, r, "X-Scope-OrgID", "tenant-1")
			if !r.HasBasic || r.User != "otel-user" || r.Password != "otel-password" {
				t.Errorf("got basic auth %v %q %q", r.HasBasic, r.User, r.Password)
			}

			var got tracepb.TracesData
			if err := proto.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.ResourceSpans) != 1 || len(got.ResourceSpans[0].ScopeSpans) != 1 || len(got.ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
				t.Fatalf("want one span, got %v", &got)
			}
			rs := got.ResourceSpans[0]
			if rs.SchemaUrl != otelSchemaURL || rs.ScopeSpans[0].Scope.GetName() != otelScope {
				t.Errorf("schema %q, scope %q", rs.SchemaUrl, rs.ScopeSpans[0].Scope.GetName())
			}
			wantResource := [][2]string{{"service.instance.id", "5f1c2d3e-alert"}, {"service.name", "flux-system/traces"}, {"service.namespace", "flux-system"}}
			if got := otelAttrs(rs.Resource.Attributes); !equalPairs(got, wantResource) {
				t.Errorf("resource %v, want %v", got, wantResource)
			}
			want := &tracepb.Span{
				TraceId: traceSum[:16], SpanId: spanSum[:8], Flags: 0x101,
				Name: "Kustomization: flux-system/apps", Kind: tracepb.Span_SPAN_KIND_INTERNAL,
				StartTimeUnixNano: uint64(chatTestTime.UnixNano()), EndTimeUnixNano: uint64(end.UnixNano()),
				Attributes: []*commonpb.KeyValue{
					otelString("object.uid", "0cd9e5b2-1f4a-4d21-9e0e-7d0c58a1e2b3"), otelString("object.kind", "Kustomization"),
					otelString("object.name", "apps"), otelString("object.namespace", "flux-system"),
					otelString("revision", "main@sha1:5ad5c0e1"), otelString("summary", "prod cluster"),
				},
				Status: tc.status,
			}
			if span := rs.ScopeSpans[0].Spans[0]; !proto.Equal(span, want) {
				t.Errorf("span\n%v\nwant\n%v", span, want)
			}
		})
	}
}

func equalPairs(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOTelRevisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		metadata map[string]string
		want     string
	}{
		{"none", map[string]string{"summary": "x"}, "unknown"},
		{"commit first", map[string]string{"revision": "r", "commit": "c"}, "c"},
		{"source revision", map[string]string{"revision": "r", "source-revision": "s"}, "s"},
		{"oci artifact", map[string]string{"revision": "r", "oci-digest": "sha256:d", "app-version": "1.2.3"}, "1.2.3@sha256:d"},
	} {
		e := chatTestEvent(event.SeverityInfo)
		e.Metadata = tc.metadata
		if got := otelRevision(e); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestOTelAuthNeedsHeaders checks Flux's rule: credentials go only with the Secret's headers,
// and never over an Authorization header of its own.
func TestOTelAuthNeedsHeaders(t *testing.T) {
	s := newStandIn(t)
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"no headers", Config{BasicUsername: "u", BasicPassword: "otel-password"}, ""},
		{"headers without credentials", Config{Headers: map[string]string{"X-Tenant": "a"}}, ""},
		{"password without username", Config{BasicPassword: "otel-password", Headers: map[string]string{"X-Tenant": "a"}}, ""},
		{"own authorization", Config{BasicUsername: "u", BasicPassword: "otel-password", Headers: map[string]string{"authorization": "ApiKey k"}}, "ApiKey k"},
	} {
		tc.c.Type, tc.c.Address = "otel", s.URL+"/otlp/v1/traces"
		n := mustNotifier(t, tc.c)
		if err := n.Post(otelTestContext(t), chatTestEvent(event.SeverityInfo)); err != nil {
			t.Fatal(err)
		}
		r := s.only(t)
		if r.Path != "/otlp/v1/traces" {
			t.Errorf("%s: posted to %s", tc.name, r.Path)
		}
		if got := r.Header.Get("Authorization"); got != tc.want {
			t.Errorf("%s: Authorization %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestOTelSkipsAndRefuses(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "otel", Address: s.URL})
	e := chatTestEvent(event.SeverityInfo)
	if err := n.Post(t.Context(), e); err == nil || Retryable(err) {
		t.Errorf("without the alert: got %v, want a permanent error", err)
	}
	e.InvolvedObject.Kind = "HelmRepository"
	if err := n.Post(otelTestContext(t), e); err != nil {
		t.Fatal(err)
	}
	if reqs := s.requests(); len(reqs) != 0 {
		t.Errorf("got %d requests", len(reqs))
	}
}

func TestOTelConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "otel"})
	s := newStandIn(t)
	c := Config{Type: "otel", Address: s.URL, Headers: map[string]string{"X-Api-Key": "otel-header-secret"},
		BasicUsername: "otel-user", BasicPassword: "otel-password"}
	n := mustNotifier(t, c)
	for _, tc := range []struct {
		status    int
		retryable bool
	}{{http.StatusInternalServerError, true}, {http.StatusUnauthorized, false}} {
		s.answerWith(tc.status, "otel-header-secret otel-password")
		err := n.Post(otelTestContext(t), chatTestEvent(event.SeverityError))
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != tc.status || Retryable(err) != tc.retryable {
			t.Errorf("status %d: got %v", tc.status, err)
		}
		for _, secret := range []string{"otel-header-secret", "otel-password"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals %q", err, secret)
			}
		}
	}
}
