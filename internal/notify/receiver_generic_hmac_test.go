package notify

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"net/http"
	"testing"
)

func TestGenericHMACReceiver(t *testing.T) {
	const token, body = "s3cret", `{"app":"podinfo"}`
	spec := ReceiverSpec{Token: []byte(token)}
	sig := func(v string) map[string]string {
		return map[string]string{"X-Signature": v, "Content-Type": "application/json"}
	}
	runReceiverCases(t, "generic-hmac", []receiverCase{
		{name: "sha1", spec: spec, header: sig("sha1=" + receiverHMACHex(sha1.New, token, body)), body: body, wantBody: body},
		{name: "sha256", spec: spec, header: sig("sha256=" + receiverHMACHex(sha256.New, token, body)), body: body, wantBody: body},
		{name: "sha512", spec: spec, header: sig("sha512=" + receiverHMACHex(sha512.New, token, body)), body: body, wantBody: body},
		{name: "unsigned", spec: spec, body: body, wantReject: http.StatusBadRequest},
		{name: "signed with another token", spec: spec, header: sig("sha256=" + receiverHMACHex(sha256.New, "other", body)), body: body, wantReject: http.StatusBadRequest},
		{name: "body changed after signing", spec: spec, header: sig("sha256=" + receiverHMACHex(sha256.New, token, body)), body: body + " ", wantReject: http.StatusBadRequest},
		{name: "hash named by header value only", spec: spec, header: sig("sha512=" + receiverHMACHex(sha256.New, token, body)), body: body, wantReject: http.StatusBadRequest},
		{name: "unknown hash", spec: spec, header: sig("md5=" + receiverHMACHex(sha256.New, token, body)), body: body, wantReject: http.StatusBadRequest},
		{name: "no prefix", spec: spec, header: sig(receiverHMACHex(sha256.New, token, body)), body: body, wantReject: http.StatusBadRequest},
		{name: "not hex", spec: spec, header: sig("sha256=zz"), body: body, wantReject: http.StatusBadRequest},
		{
			name:   "events are not filtered",
			spec:   ReceiverSpec{Token: []byte(token), Events: []string{"push"}},
			header: sig("sha256=" + receiverHMACHex(sha256.New, token, body)), body: body,
		},
	})
}
