package notify

import (
	"net/http"
	"testing"
)

func TestHarborReceiver(t *testing.T) {
	spec := ReceiverSpec{Token: []byte("s3cret"), Events: []string{"PUSH_ARTIFACT"}}
	const body = `{"type":"DELETE_ARTIFACT"}`
	json := map[string]string{"Content-Type": "application/json"}
	with := func(auth string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Authorization": auth}
	}
	runReceiverCases(t, "harbor", []receiverCase{
		{name: "auth header is the token; events not filtered", spec: spec, header: with("s3cret"), body: body, wantBody: body},
		{name: "missing", spec: spec, header: json, body: body, wantReject: http.StatusBadRequest},
		{name: "wrong token", spec: spec, header: with("other"), body: body, wantReject: http.StatusBadRequest},
		{name: "compared as is, no scheme stripped", spec: spec, header: with("Bearer s3cret"), body: body, wantReject: http.StatusBadRequest},
	})
}
