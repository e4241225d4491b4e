package notify

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/weirgitops/weir/internal/event"
)

func TestMatrixMessage(t *testing.T) {
	s := newStandIn(t)
	n := mustNotifier(t, Config{Type: "matrix", Address: s.URL, Channel: "!abcdef:matrix.example.org", Token: "syt_matrix_token"})
	for _, tc := range []struct {
		severity, want string
	}{
		{event.SeverityInfo, "💫 kustomization/apps.flux-system\nReconciliation finished in 2s, next run in 10m\n" +
			"- revision: main@sha1:5ad5c0e1\n- summary: prod cluster\n"},
		{event.SeverityError, "🚨 kustomization/apps.flux-system\nDeployment/apps/web: timeout waiting for rollout\n" +
			"- revision: main@sha1:5ad5c0e1\n- summary: prod cluster\n"},
	} {
		t.Run(tc.severity, func(t *testing.T) {
			e := chatTestEvent(tc.severity)
			if err := n.Post(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(e)
			sum := sha1.Sum(raw)
			r := s.only(t)
			wantPath := "/_matrix/client/r0/rooms/!abcdef:matrix.example.org/send/m.room.message/" + hex.EncodeToString(sum[:])
			if r.Method != http.MethodPut || r.Path != wantPath {
				t.Errorf("got %s %s, want PUT %s", r.Method, r.Path, wantPath)
			}
			assertHeader(t, r, "Authorization", "Bearer syt_matrix_token")
			assertHeader(t, r, "Content-Type", "application/json")
			want, _ := json.Marshal(map[string]string{"body": tc.want, "msgtype": "m.text"})
			assertJSON(t, r.Body, string(want))
		})
	}
}

func TestMatrixConfigAndFailures(t *testing.T) {
	assertConfigError(t, Config{Type: "matrix", Channel: "!abcdef:matrix.example.org"})
	s := newStandIn(t)
	assertDeliveryFailures(t, s, Config{Type: "matrix", Address: s.URL, Channel: "!abcdef:matrix.example.org", Token: "syt_matrix_token"})
}
