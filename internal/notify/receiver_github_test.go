package notify

import (
	"crypto/sha1"
	"crypto/sha256"
	"net/http"
	"net/url"
	"testing"
)

func TestGitHubReceiver(t *testing.T) {
	const token, body = "s3cret", `{"ref":"refs/heads/main"}`
	spec := ReceiverSpec{Token: []byte(token)}
	push := func(h map[string]string) map[string]string {
		out := map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	sha256Sig := "sha256=" + receiverHMACHex(sha256.New, token, body)
	form := "payload=" + url.QueryEscape(body)
	runReceiverCases(t, "github", []receiverCase{
		{name: "push signed with sha256", spec: spec, header: push(map[string]string{"X-Hub-Signature-256": sha256Sig}), body: body, wantEvent: "push", wantBody: body},
		{name: "legacy sha1 signature", spec: spec, header: push(map[string]string{"X-Hub-Signature": "sha1=" + receiverHMACHex(sha1.New, token, body)}), body: body, wantEvent: "push"},
		{
			name: "sha256 header wins over a valid sha1 header", spec: spec, body: body, wantReject: http.StatusBadRequest,
			header: push(map[string]string{"X-Hub-Signature-256": "sha256=" + receiverHMACHex(sha256.New, "other", body), "X-Hub-Signature": "sha1=" + receiverHMACHex(sha1.New, token, body)}),
		},
		{name: "unsigned", spec: spec, header: push(nil), body: body, wantReject: http.StatusBadRequest},
		{name: "mis-signed", spec: spec, header: push(map[string]string{"X-Hub-Signature-256": "sha256=" + receiverHMACHex(sha256.New, token, body+"x")}), body: body, wantReject: http.StatusBadRequest},
		{name: "wrong token", spec: ReceiverSpec{Token: []byte("other")}, header: push(map[string]string{"X-Hub-Signature-256": sha256Sig}), body: body, wantReject: http.StatusBadRequest},
		{
			name: "form-encoded delivery: signature over the form, payload not offered as JSON", spec: spec, body: form, wantEvent: "push", wantBody: "null",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + receiverHMACHex(sha256.New, token, form)},
		},
		{name: "missing content type", spec: spec, header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sha256Sig}, body: body, wantReject: http.StatusBadRequest},
		{name: "unsupported content type", spec: spec, header: push(map[string]string{"Content-Type": "text/plain", "X-Hub-Signature-256": sha256Sig}), body: body, wantReject: http.StatusBadRequest},
		{
			name: "malformed JSON is not parsed, as in Flux", spec: spec, body: "{", wantEvent: "push", wantBody: "null",
			header: push(map[string]string{"X-Hub-Signature-256": "sha256=" + receiverHMACHex(sha256.New, token, "{")}),
		},
		{
			name: "ping is valid and triggers nothing", spec: spec, body: body, wantEvent: "ping", wantIgnore: true,
			header: push(map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": sha256Sig}),
		},
		{
			name: "ping listed in events still triggers nothing", spec: ReceiverSpec{Token: []byte(token), Events: []string{"ping", "push"}}, body: body, wantEvent: "ping", wantIgnore: true,
			header: push(map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": sha256Sig}),
		},
		{
			name: "event not listed is ignored", spec: ReceiverSpec{Token: []byte(token), Events: []string{"push"}}, body: body, wantEvent: "issues", wantIgnore: true,
			header: push(map[string]string{"X-GitHub-Event": "issues", "X-Hub-Signature-256": sha256Sig}),
		},
		{
			name: "events compared case-insensitively", spec: ReceiverSpec{Token: []byte(token), Events: []string{"PUSH"}}, body: body, wantEvent: "push",
			header: push(map[string]string{"X-Hub-Signature-256": sha256Sig}),
		},
		{
			name: "a filtered event must still be signed", spec: ReceiverSpec{Token: []byte(token), Events: []string{"push"}}, body: body, wantReject: http.StatusBadRequest,
			header: push(map[string]string{"X-GitHub-Event": "issues"}),
		},
		{name: "empty token and no signature is accepted, as go-github does", header: push(nil), body: body, wantEvent: "push"},
	})
}
