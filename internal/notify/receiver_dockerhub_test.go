package notify

import (
	"net/http"
	"testing"
)

func TestDockerHubReceiver(t *testing.T) {
	const body = `{"push_data":{"tag":"v1.2.3"},"repository":{"repo_url":"https://hub.docker.com/r/stefanprodan/podinfo"}}`
	json := map[string]string{"Content-Type": "application/json"}
	runReceiverCases(t, "dockerhub", []receiverCase{
		{name: "push", header: json, body: body, wantBody: body},
		{name: "malformed JSON", header: json, body: `{"push_data":`, wantReject: http.StatusBadRequest},
		{name: "empty body", header: json, wantReject: http.StatusBadRequest},
		{name: "wrong shape", header: json, body: `{"push_data":"v1"}`, wantReject: http.StatusBadRequest},
		{name: "not an object", header: json, body: `["v1"]`, wantReject: http.StatusBadRequest},
		{name: "first value only, as Flux's decoder", header: json, body: body + " trailing", wantBody: body},
		{name: "events are not filtered", spec: ReceiverSpec{Events: []string{"tag"}}, header: json, body: body},
	})
}
