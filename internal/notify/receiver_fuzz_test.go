package notify

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"testing"
)

// FuzzValidate feeds every receiver type arbitrary headers and bodies. Invariant: validation
// never panics, refuses with a *RejectError only, and an accepted body is a JSON object or
// nil. The context is cancelled, so the OIDC types fail before any network call.
func FuzzValidate(f *testing.F) {
	types := ReceiverTypes()
	slices.Sort(types)
	const token = "s3cret"
	seed := func(typ, sig, event, contentType, auth, body string) {
		f.Add(uint8(slices.Index(types, typ)), sig, event, contentType, auth, []byte(body))
	}
	const body = `{"action":"push","push_data":{"tag":"v1"},"target":{"tag":"v1"}}`
	seed("generic", "", "", "application/json", "", body)
	seed("generic-hmac", "sha256="+receiverHMACHex(sha256.New, token, body), "", "application/json", "", body)
	seed("github", "sha256="+receiverHMACHex(sha256.New, token, body), "push", "application/json", "", body)
	seed("github", "sha1="+receiverHMACHex(sha1.New, token, "payload=%7B%7D"), "ping", "application/x-www-form-urlencoded", "", "payload=%7B%7D")
	seed("gitlab", "", "Push Hook", "application/json", "", body)
	seed("bitbucket", "sha256="+receiverHMACHex(sha256.New, token, body), "repo:refs_changed", "application/json", "", body)
	seed("harbor", "", "", "application/json", token, body)
	seed("dockerhub", "", "", "application/json", "", body)
	seed("quay", "", "", "application/json", "", `{"docker_url":"quay.io/a/b","updated_tags":["v1"]}`)
	seed("acr", "", "", "application/json", "", body)
	seed("nexus", receiverHMACHex(sha1.New, token, body), "", "application/json", "", body)
	seed("cdevents", "", "dev.cdevents.pipelinerun.queued.0.2.0", "application/json",
		"", `{"context":{"specversion":"0.4.1","id":"1","source":"/s","type":"dev.cdevents.pipelinerun.queued.0.2.0","timestamp":"2023-03-20T14:27:05Z"},"subject":{"id":"x","content":{}}}`)
	seed("gcr", "", "", "application/json", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhIn0.c2ln", `{"message":{"data":"e30="}}`)
	seed("generic-oidc", "", "", "application/json", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjEifQ.c2ln", body)
	seed("generic-oidc", "", "", "", "Bearer a.%%%.b", "")

	f.Fuzz(func(t *testing.T, typ uint8, sig, event, contentType, auth string, body []byte) {
		spec := ReceiverSpec{
			Type:   types[int(typ)%len(types)],
			Token:  []byte(token),
			Events: []string{"push", "Push Hook", "repo:refs_changed", "dev.cdevents.pipelinerun.queued.0.2.0"},
			OIDCProviders: []OIDCProvider{{
				IssuerURL: "http://127.0.0.1:1", Audience: "flux",
				Validations: []OIDCValidation{{Expression: "claims.sub == 'x'", Message: "m"}},
			}},
			Email: "a@b.iam.gserviceaccount.com", Audience: "a",
		}
		h := http.Header{}
		for _, k := range []string{"X-Signature", "X-Hub-Signature-256", "X-Hub-Signature", "X-Nexus-Webhook-Signature", "X-Gitlab-Token"} {
			h.Set(k, sig)
		}
		for _, k := range []string{"X-GitHub-Event", "X-Gitlab-Event", "X-Event-Key", "Ce-Type"} {
			h.Set(k, event)
		}
		h.Set("Content-Type", contentType)
		h.Set("Authorization", auth)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		a, err := ValidateContext(ctx, spec, Webhook{Header: h, Body: body, Method: http.MethodPost})
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("%s: error %T is not a RejectError: %v", spec.Type, err, err)
			}
			return
		}
		if a.Body != nil {
			if _, ok := a.Body.(map[string]any); !ok {
				t.Fatalf("%s: body %T is not a JSON object", spec.Type, a.Body)
			}
		}
	})
}
