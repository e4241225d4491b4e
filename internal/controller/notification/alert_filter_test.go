package notification_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/testenv"
)

// TestAlertFiltering: eventSeverity error only takes errors, an inclusionList only what
// matches it, matchLabels only labelled objects, a suspended Alert or Provider nothing, and a
// commit-status update goes to Git providers only; events are posted to the events endpoint.
func TestAlertFiltering(t *testing.T) {
	ns := env.Namespace(t)
	sinks := map[string]*standIn{}
	for _, name := range []string{"errors", "included", "labelled", "suspended", "suspended-provider", "all"} {
		sinks[name] = newStandIn(t, http.StatusOK)
	}
	hr := func(name string) notificationv1.CrossNamespaceObjectReference {
		return notificationv1.CrossNamespaceObjectReference{Kind: "HelmRelease", Name: name}
	}
	alerts := map[string]func(*notificationv1beta3.Alert){
		"errors":   func(a *notificationv1beta3.Alert) { a.Spec.EventSeverity = "error" },
		"included": func(a *notificationv1beta3.Alert) { a.Spec.InclusionList = []string{"^Helm upgrade"} },
		"labelled": func(a *notificationv1beta3.Alert) {
			a.Spec.EventSources[0].MatchLabels = map[string]string{"team": "payments"}
		},
		"suspended":          func(a *notificationv1beta3.Alert) { a.Spec.Suspend = true },
		"suspended-provider": func(*notificationv1beta3.Alert) {},
		"all":                func(*notificationv1beta3.Alert) {},
	}
	for name, mutate := range alerts {
		p := provider(ns, name, sinks[name].URL)
		p.Spec.Suspend = name == "suspended-provider"
		a := alert(ns, name, name, hr("*"))
		mutate(a)
		create(t, p, a)
	}
	// The source named "web" exists with the label (matchLabels reads the object); "marker"
	// does not exist, so the labelled Alert cannot match it.
	create(t, &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: map[string]string{"team": "payments"}},
		Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "web"}}})
	post := func(name, severity, message string, metadata map[string]string) {
		t.Helper()
		meta := ""
		for k, v := range metadata {
			meta += fmt.Sprintf(`,%q:%q`, k, v)
		}
		body := fmt.Sprintf(`{"involvedObject":{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","name":%q,"namespace":%q},`+
			`"severity":%q,"timestamp":"2026-01-01T00:00:00Z","message":%q,"reason":"Test","metadata":{"helm.toolkit.fluxcd.io/revision":"1"%s},"reportingController":"helm-controller"}`,
			name, ns, severity, message, meta)
		resp, err := http.Post(eventsURL, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post %s: %d", message, resp.StatusCode)
		}
	}
	// Wait until every Alert is in the cache: a probe reaches the catch-all sink.
	testenv.Eventually(t, 30*time.Second, func() error {
		if len(sinks["all"].received()) > 0 {
			return nil
		}
		post("probe", "info", fmt.Sprintf("probe %d", time.Now().UnixNano()), nil)
		return fmt.Errorf("no probe delivered yet")
	})
	post("web", "info", "Helm upgrade succeeded", nil)
	post("web", "error", "Helm install failed", nil)
	post("web", "info", "Helm upgrade succeeded", map[string]string{"helm.toolkit.fluxcd.io/commit_status": "update"})
	post("marker", "info", "final message", nil) // sent last: when "all" has it, the rest were dispatched before
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, p := range sinks["all"].received() {
			if p.event.Message == "final message" {
				return nil
			}
		}
		return fmt.Errorf("the catch-all Alert has not got every event yet")
	})
	messages := func(name string) []string {
		var out []string
		for _, p := range sinks[name].received() {
			if !strings.HasPrefix(p.event.Message, "probe") {
				out = append(out, p.event.Severity+" "+p.event.Message)
			}
		}
		return out
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := messages("errors"); len(got) != 1 || got[0] != "error Helm install failed" {
			return fmt.Errorf("errors Alert got %q, want the error alone", got)
		}
		if got := messages("included"); len(got) != 1 || got[0] != "info Helm upgrade succeeded" {
			return fmt.Errorf("inclusion list Alert got %q, want the matching info event alone (the commit-status update goes to Git providers only)", got)
		}
		if got := messages("labelled"); len(got) != 2 {
			return fmt.Errorf("labelled Alert got %q, want the two events of the labelled HelmRelease", got)
		}
		return nil
	})
	for _, name := range []string{"suspended", "suspended-provider"} {
		if got := messages(name); len(got) != 0 {
			t.Errorf("%s got %q, want nothing", name, got)
		}
	}
}
