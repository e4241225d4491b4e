package notify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestGCRReceiver(t *testing.T) {
	google := newReceiverTestIssuer(t) // serves the keys; its URL is not the tokens' issuer
	impostor := newReceiverTestIssuer(t)
	v := gcrTokenVerifier{
		keysURL: google.URL() + "/jwks",
		issuers: []string{"accounts.google.com", "https://accounts.google.com"},
	}
	const email, audience = "pusher@my-project.iam.gserviceaccount.com", "https://flux.example.com/hook/abc"
	spec := ReceiverSpec{Type: "gcr", Token: []byte("t"), Email: email, Audience: audience}
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{
			"iss": "https://accounts.google.com", "aud": audience, "sub": "1234",
			"email": email, "email_verified": true,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		}
		for k, val := range over {
			c[k] = val
		}
		return c
	}
	event := `{"action":"INSERT","digest":"gcr.io/my-project/app@sha256:6ec1","tag":"gcr.io/my-project/app:v1"}`
	push := func(data string) string {
		b, err := json.Marshal(map[string]any{"message": map[string]any{
			"data": data, "messageId": "1", "publishTime": "2024-01-02T03:04:05Z",
			"subscription": "projects/my-project/subscriptions/flux",
		}, "subscription": "projects/my-project/subscriptions/flux"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	valid := push(base64.StdEncoding.EncodeToString([]byte(event)))
	cases := []struct {
		name       string
		spec       ReceiverSpec
		auth       string
		body       string
		wantReject bool
	}{
		{name: "valid push", spec: spec, auth: "Bearer " + google.sign(t, claims(nil)), body: valid},
		{name: "issuer without scheme", spec: spec, auth: "Bearer " + google.sign(t, claims(map[string]any{"iss": "accounts.google.com"})), body: valid},
		{name: "unsigned", spec: spec, body: valid, wantReject: true},
		{name: "not a bearer", spec: spec, auth: google.sign(t, claims(nil)), body: valid, wantReject: true},
		{name: "signed by another key", spec: spec, auth: "Bearer " + impostor.sign(t, claims(nil)), body: valid, wantReject: true},
		{name: "tampered", spec: spec, auth: "Bearer " + receiverTamperJWT(t, google.sign(t, claims(map[string]any{"sub": "my-org/my-repo"}))), body: valid, wantReject: true},
		{name: "wrong audience", spec: spec, auth: "Bearer " + google.sign(t, claims(map[string]any{"aud": "https://other"})), body: valid, wantReject: true},
		{name: "wrong issuer", spec: spec, auth: "Bearer " + google.sign(t, claims(map[string]any{"iss": "https://evil.example.com"})), body: valid, wantReject: true},
		{name: "wrong email", spec: spec, auth: "Bearer " + google.sign(t, claims(map[string]any{"email": "x@evil.iam.gserviceaccount.com"})), body: valid, wantReject: true},
		{name: "email not verified", spec: spec, auth: "Bearer " + google.sign(t, claims(map[string]any{"email_verified": false})), body: valid, wantReject: true},
		{name: "expired", spec: spec, auth: "Bearer " + google.sign(t, claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), body: valid, wantReject: true},
		{name: "secret without email", spec: ReceiverSpec{Type: "gcr", Audience: audience}, auth: "Bearer " + google.sign(t, claims(nil)), body: valid, wantReject: true},
		{name: "secret without audience", spec: ReceiverSpec{Type: "gcr", Email: email}, auth: "Bearer " + google.sign(t, claims(nil)), body: valid, wantReject: true},
		{name: "malformed JSON", spec: spec, auth: "Bearer " + google.sign(t, claims(nil)), body: `{"message":`, wantReject: true},
		{name: "publish time not a time", spec: spec, auth: "Bearer " + google.sign(t, claims(nil)), body: `{"message":{"data":"e30=","publishTime":"now"}}`, wantReject: true},
		{name: "data not a registry event", spec: spec, auth: "Bearer " + google.sign(t, claims(nil)), body: push(base64.StdEncoding.EncodeToString([]byte("not json"))), wantReject: true},
		{name: "data not base64", spec: spec, auth: "Bearer " + google.sign(t, claims(nil)), body: push("%%%"), wantReject: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			a, err := v.validate(t.Context(), tc.spec, Webhook{Header: h, Body: []byte(tc.body), Method: http.MethodPost})
			if tc.wantReject {
				var re *RejectError
				if !errors.As(err, &re) || re.Status != http.StatusBadRequest {
					t.Fatalf("want a 400 rejection, got %v", err)
				}
				t.Logf("rejected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("unexpected rejection: %v", err)
			}
			var want any
			if err := json.Unmarshal([]byte(event), &want); err != nil {
				t.Fatal(err)
			}
			if a.Event != "INSERT" || a.Ignore || !reflect.DeepEqual(a.Body, want) {
				t.Fatalf("accepted %+v, want the unwrapped event %v", a, want)
			}
		})
	}
}
