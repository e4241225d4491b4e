package notify

import (
	"net/http"
	"testing"
)

func TestGenericReceiver(t *testing.T) {
	runReceiverCases(t, "generic", []receiverCase{
		{name: "any request", wantBody: "null"},
		{
			name:     "json body offered to resourceFilter",
			header:   map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body:     `{"ref":"refs/heads/main"}`,
			wantBody: `{"ref":"refs/heads/main"}`,
		},
		{
			name:     "body of another content type is not decoded",
			header:   map[string]string{"Content-Type": "text/plain"},
			body:     `{"ref":"main"}`,
			wantBody: "null",
		},
		{
			name:     "malformed JSON is still accepted, without a body",
			header:   map[string]string{"Content-Type": "application/json"},
			body:     `{"ref":`,
			wantBody: "null",
		},
		{
			name: "events are not filtered",
			spec: ReceiverSpec{Events: []string{"push"}},
		},
	})
	if s := RejectStatus(nil); s != http.StatusBadRequest {
		t.Fatalf("RejectStatus(nil) = %d", s)
	}
}
