package notification

import (
	"strings"
	"testing"

	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/event"
)

// TestCrossNamespaceRefused: under --no-cross-namespace-refs an Alert does not dispatch events
// of another namespace (before anything is read).
func TestCrossNamespaceRefused(t *testing.T) {
	d := &Dispatcher{NoCrossNamespaceRefs: true}
	a := &notificationv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "on-call"}}
	e := event.Event{InvolvedObject: corev1.ObjectReference{Kind: "Kustomization", Namespace: "team-b", Name: "apps"}}
	err := d.dispatch(t.Context(), e, a, false)
	if err == nil || !strings.Contains(err.Error(), "cross-namespace references have been blocked") {
		t.Errorf("dispatch = %v, want the cross-namespace refusal", err)
	}
}

// TestMetadata checks Flux's metadata handling: the cleanup on ingest, the token's removal,
// and the combination in RFC 0008's precedence with conflicts reported.
func TestMetadata(t *testing.T) {
	e := event.Event{InvolvedObject: corev1.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization"},
		Metadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc",
			"kustomize.toolkit.fluxcd.io/token":    "t",
			"kustomize.toolkit.fluxcd.io/checksum": "c",
			"event.toolkit.fluxcd.io/cluster":      "from-annotation",
			"event.toolkit.fluxcd.io/env":          "prod",
			"other.io/x":                           "dropped",
		}}
	cleanup(&e)
	removeToken(&e)
	conflicts := combine(&e, map[string]string{"cluster": "from-alert", "team": "payments"}, "a summary")
	want := map[string]string{"revision": "main@sha1:abc", "cluster": "from-alert", "env": "prod", "team": "payments", "summary": "a summary"}
	if len(e.Metadata) != len(want) {
		t.Errorf("metadata %v, want %v", e.Metadata, want)
	}
	for k, v := range want {
		if e.Metadata[k] != v {
			t.Errorf("metadata[%s] = %q, want %q (all: %v)", k, e.Metadata[k], v, e.Metadata)
		}
	}
	if len(conflicts) != 1 || conflicts[0] != "cluster" {
		t.Errorf("conflicts %v, want [cluster]", conflicts)
	}
}
