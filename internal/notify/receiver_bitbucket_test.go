package notify

import (
	"crypto/sha256"
	"net/http"
	"testing"
)

func TestBitbucketReceiver(t *testing.T) {
	const token, body = "s3cret", `{"eventKey":"repo:refs_changed"}`
	spec := ReceiverSpec{Token: []byte(token), Events: []string{"repo:refs_changed"}}
	hdr := func(sig, event string) map[string]string {
		h := map[string]string{"Content-Type": "application/json; charset=utf-8", "X-Event-Key": event}
		if sig != "" {
			h["X-Hub-Signature"] = sig
		}
		return h
	}
	good := "sha256=" + receiverHMACHex(sha256.New, token, body)
	runReceiverCases(t, "bitbucket", []receiverCase{
		{name: "push", spec: spec, header: hdr(good, "repo:refs_changed"), body: body, wantEvent: "repo:refs_changed", wantBody: body},
		{name: "unsigned", spec: spec, header: hdr("", "repo:refs_changed"), body: body, wantReject: http.StatusBadRequest},
		{name: "mis-signed", spec: spec, header: hdr("sha256="+receiverHMACHex(sha256.New, "other", body), "repo:refs_changed"), body: body, wantReject: http.StatusBadRequest},
		{name: "event not listed is ignored", spec: spec, header: hdr(good, "pr:opened"), body: body, wantEvent: "pr:opened", wantIgnore: true},
		{name: "diagnostics ping is an event like any other", spec: ReceiverSpec{Token: []byte(token)}, header: hdr(good, "diagnostics:ping"), body: body, wantEvent: "diagnostics:ping"},
	})
}
