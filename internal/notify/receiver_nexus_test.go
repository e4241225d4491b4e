package notify

import (
	"crypto/sha1"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
)

func TestNexusReceiver(t *testing.T) {
	const token, body = "s3cret", `{"action":"CREATED","repositoryName":"docker-hosted"}`
	spec := ReceiverSpec{Token: []byte(token)}
	sig := func(v string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-Nexus-Webhook-Signature": v}
	}
	runReceiverCases(t, "nexus", []receiverCase{
		{name: "signed", spec: spec, header: sig(receiverHMACHex(sha1.New, token, body)), body: body, wantEvent: "CREATED", wantBody: body},
		{name: "unsigned", spec: spec, body: body, wantReject: http.StatusBadRequest},
		{name: "mis-signed", spec: spec, header: sig(receiverHMACHex(sha1.New, "other", body)), body: body, wantReject: http.StatusBadRequest},
		{name: "sha256 is not nexus's", spec: spec, header: sig(receiverHMACHex(sha256.New, token, body)), body: body, wantReject: http.StatusBadRequest},
		{name: "uppercase hex is refused, as in Flux", spec: spec, header: sig(strings.ToUpper(receiverHMACHex(sha1.New, token, body))), body: body, wantReject: http.StatusBadRequest},
		{name: "malformed JSON", spec: spec, header: sig(receiverHMACHex(sha1.New, token, "{")), body: "{", wantReject: http.StatusBadRequest},
		{name: "trailing data is malformed", spec: spec, header: sig(receiverHMACHex(sha1.New, token, body+"x")), body: body + "x", wantReject: http.StatusBadRequest},
		{name: "events are not filtered", spec: ReceiverSpec{Token: []byte(token), Events: []string{"UPDATED"}}, header: sig(receiverHMACHex(sha1.New, token, body)), body: body, wantEvent: "CREATED"},
	})
}
