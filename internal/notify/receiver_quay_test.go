package notify

import (
	"net/http"
	"testing"
)

func TestQuayReceiver(t *testing.T) {
	const body = `{"docker_url":"quay.io/org/app","updated_tags":["v1"]}`
	json := map[string]string{"Content-Type": "application/json"}
	runReceiverCases(t, "quay", []receiverCase{
		{name: "repository push", header: json, body: body, wantBody: body},
		{name: "malformed JSON", header: json, body: `{"docker_url"`, wantReject: http.StatusBadRequest},
		{name: "wrong shape", header: json, body: `{"updated_tags":"v1"}`, wantReject: http.StatusBadRequest},
		{name: "events are not filtered", spec: ReceiverSpec{Events: []string{"push"}}, header: json, body: body},
	})
}
