package notify

import (
	"net/http"
	"testing"
)

func TestACRReceiver(t *testing.T) {
	const body = `{"id":"1","action":"push","target":{"repository":"app","tag":"v1"}}`
	json := map[string]string{"Content-Type": "application/json"}
	runReceiverCases(t, "acr", []receiverCase{
		{name: "push", header: json, body: body, wantEvent: "push", wantBody: body},
		{name: "malformed JSON", header: json, body: `{"action":`, wantReject: http.StatusBadRequest},
		{name: "wrong shape", header: json, body: `{"target":[]}`, wantReject: http.StatusBadRequest},
		{name: "events are not filtered", spec: ReceiverSpec{Events: []string{"delete"}}, header: json, body: body, wantEvent: "push"},
	})
}
