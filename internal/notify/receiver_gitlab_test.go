package notify

import (
	"net/http"
	"testing"
)

func TestGitLabReceiver(t *testing.T) {
	spec := ReceiverSpec{Token: []byte("s3cret"), Events: []string{"Push Hook", "Tag Push Hook"}}
	hdr := func(token, event string) map[string]string {
		h := map[string]string{"Content-Type": "application/json", "X-Gitlab-Event": event}
		if token != "" {
			h["X-Gitlab-Token"] = token
		}
		return h
	}
	const body = `{"object_kind":"push"}`
	runReceiverCases(t, "gitlab", []receiverCase{
		{name: "push", spec: spec, header: hdr("s3cret", "Push Hook"), body: body, wantEvent: "Push Hook", wantBody: body},
		{name: "event compared case-insensitively", spec: spec, header: hdr("s3cret", "tag push hook"), body: body, wantEvent: "tag push hook"},
		{name: "event not listed is ignored", spec: spec, header: hdr("s3cret", "Merge Request Hook"), body: body, wantEvent: "Merge Request Hook", wantIgnore: true},
		{name: "no token", spec: spec, header: hdr("", "Push Hook"), body: body, wantReject: http.StatusBadRequest},
		{name: "wrong token", spec: spec, header: hdr("s3cret2", "Push Hook"), body: body, wantReject: http.StatusBadRequest},
		{name: "token prefix", spec: spec, header: hdr("s3cre", "Push Hook"), body: body, wantReject: http.StatusBadRequest},
		{name: "malformed JSON is not parsed, as in Flux", spec: spec, header: hdr("s3cret", "Push Hook"), body: "{", wantEvent: "Push Hook", wantBody: "null"},
		{name: "no events listed: all accepted", spec: ReceiverSpec{Token: []byte("s3cret")}, header: hdr("s3cret", "Job Hook"), body: body, wantEvent: "Job Hook"},
	})
}
