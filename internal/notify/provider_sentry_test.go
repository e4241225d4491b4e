package notify

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

// sentryTestNotifier is a Sentry notifier for the stand-in with predictable IDs and clock.
func sentryTestNotifier(t *testing.T, s *standIn) *sentryNotifier {
	t.Helper()
	dsn := strings.Replace(s.URL, "http://", "http://sentrypublic:sentrysecret@", 1) + "/prefix/42"
	n := mustNotifier(t, Config{Type: "sentry", Address: dsn, Channel: "production"}).(*sentryNotifier)
	next := 0
	n.newID = func(size int) string {
		next++
		return fmt.Sprintf("%0*d", 2*size, next)
	}
	n.timeNow = func() time.Time { return chatTestTime.Add(time.Second) }
	return n
}

func TestSentryEnvelopes(t *testing.T) {
	s := newStandIn(t)
	sdk := `"sdk":{"name":"weir.notify","version":"1"}`
	for _, tc := range []struct {
		severity, item, payload string
	}{
		{event.SeverityError, `{"type":"event","length":%d}`, `{"event_id":"00000000000000000000000000000001","level":"error",
			"platform":"go",` + sdk + `,"environment":"production","server_name":"kustomize-controller",
			"transaction":"Kustomization: flux-system/apps","message":"Deployment/apps/web: timeout waiting for rollout",
			"extra":{"revision":"main@sha1:5ad5c0e1","summary":"prod cluster"},"timestamp":"2025-03-04T05:06:07Z"}`},
		{event.SeverityInfo, `{"type":"transaction","length":%d}`, `{"event_id":"00000000000000000000000000000001","type":"transaction",
			"platform":"go",` + sdk + `,"environment":"production","transaction":"Kustomization: flux-system/apps",
			"message":"Reconciliation finished in 2s, next run in 10m",
			"tags":{"flux_involved_object_kind":"Kustomization","flux_involved_object_namespace":"flux-system",
				"flux_involved_object_name":"apps","flux_reporting_controller":"kustomize-controller",
				"flux_reporting_instance":"kustomize-controller-7c7b47f5f-8bhrp","flux_reason":"ReconciliationSucceeded",
				"revision":"main@sha1:5ad5c0e1","summary":"prod cluster"},
			"contexts":{"trace":{"trace_id":"00000000000000000000000000000002","span_id":"0000000000000003","op":"event"}},
			"timestamp":"2025-03-04T05:06:07Z","start_timestamp":"2025-03-04T05:06:07Z",
			"spans":[{"trace_id":"00000000000000000000000000000002","span_id":"0000000000000003","op":"event","origin":"manual",
				"tags":{"flux_involved_object_kind":"Kustomization","flux_involved_object_namespace":"flux-system",
				"flux_involved_object_name":"apps","flux_reporting_controller":"kustomize-controller",
				"flux_reporting_instance":"kustomize-controller-7c7b47f5f-8bhrp","flux_reason":"ReconciliationSucceeded",
				"revision":"main@sha1:5ad5c0e1","summary":"prod cluster"},
				"start_timestamp":"2025-03-04T05:06:07Z","timestamp":"2025-03-04T05:06:07Z"}]}`},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			n := sentryTestNotifier(t, s)
			if err := n.Post(t.Context(), chatTestEvent(tc.severity)); err != nil {
				t.Fatal(err)
			}
			r := s.only(t)
			if r.Method != http.MethodPost || r.Path != "/prefix/api/42/envelope/" {
				t.Errorf("got %s %s", r.Method, r.Path)
			}
			assertHeader(t, r, "Content-Type", "application/x-sentry-envelope")
			assertHeader(t, r, "X-Sentry-Auth", "Sentry sentry_version=7, sentry_client=weir.notify/1, sentry_key=sentrypublic, sentry_secret=sentrysecret")
			lines := bytes.Split(bytes.TrimSuffix(r.Body, []byte("\n")), []byte("\n"))
			if len(lines) != 3 {
				t.Fatalf("envelope has %d lines:\n%s", len(lines), r.Body)
			}
			dsn := strings.Replace(s.URL, "http://", "http://sentrypublic:sentrysecret@", 1) + "/prefix/42"
			assertJSON(t, lines[0], `{"event_id":"00000000000000000000000000000001","sent_at":"2025-03-04T05:06:08Z","dsn":"`+dsn+`",`+sdk+`}`)
			assertJSON(t, lines[1], fmt.Sprintf(tc.item, len(lines[2])))
			assertJSON(t, lines[2], tc.payload)
		})
	}
}

func TestSentryConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "sentry"})
	assertConfigError(t, Config{Type: "sentry", Address: "https://o1.ingest.sentry.io/42"})           // no key
	assertConfigError(t, Config{Type: "sentry", Address: "https://sentrypublic@o1.ingest.sentry.io"}) // no project
	s := newStandIn(t)
	dsn := strings.Replace(s.URL, "http://", "http://sentrypublic:sentrysecret@", 1) + "/42"
	assertDeliveryFailures(t, s, Config{Type: "sentry", Address: dsn}, "sentrypublic", "sentrysecret")
}
