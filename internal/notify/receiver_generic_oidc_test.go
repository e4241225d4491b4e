package notify

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGenericOIDCReceiver(t *testing.T) {
	iss := newReceiverTestIssuer(t)
	other := newReceiverTestIssuer(t)
	provider := OIDCProvider{
		IssuerURL: iss.URL(),
		Audience:  "flux",
		Validations: []OIDCValidation{
			{Expression: `claims.repository == 'my-org/my-repo'`, Message: "wrong repo"},
			{Expression: `claims.environment == 'production'`, Message: "wrong environment"},
		},
	}
	spec := ReceiverSpec{OIDCProviders: []OIDCProvider{provider}}
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{
			"iss": iss.URL(), "aud": "flux", "sub": "repo:my-org/my-repo",
			"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix(),
			"repository": "my-org/my-repo", "environment": "production",
		}
		for k, v := range over {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	bearer := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	const body = `{"image":"v1"}`
	runReceiverCases(t, "generic-oidc", []receiverCase{
		{
			name: "valid token", spec: spec, header: bearer(iss.sign(t, claims(nil))), body: body, wantBody: body,
			check: func(t *testing.T, a Accepted) {
				if a.Claims["repository"] != "my-org/my-repo" || a.Claims["sub"] != "repo:my-org/my-repo" {
					t.Errorf("claims = %v", a.Claims)
				}
			},
		},
		{name: "missing authorization", spec: spec, body: body, wantReject: http.StatusBadRequest},
		{name: "not a bearer", spec: spec, header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, wantReject: http.StatusBadRequest},
		{name: "empty bearer", spec: spec, header: bearer("  "), wantReject: http.StatusBadRequest},
		{name: "malformed token", spec: spec, header: bearer("not-a-jwt"), wantReject: http.StatusBadRequest},
		{name: "token without issuer", spec: spec, header: bearer(iss.sign(t, claims(map[string]any{"iss": nil}))), wantReject: http.StatusBadRequest},
		{name: "issuer not configured", spec: spec, header: bearer(other.sign(t, claims(map[string]any{"iss": other.URL()}))), wantReject: http.StatusBadRequest},
		{name: "signed by another key", spec: spec, header: bearer(other.sign(t, claims(nil))), wantReject: http.StatusBadRequest},
		{name: "tampered payload", spec: spec, header: bearer(receiverTamperJWT(t, iss.sign(t, claims(nil)))), wantReject: http.StatusBadRequest},
		{name: "wrong audience", spec: spec, header: bearer(iss.sign(t, claims(map[string]any{"aud": "someone-else"}))), wantReject: http.StatusBadRequest},
		{name: "expired", spec: spec, header: bearer(iss.sign(t, claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()}))), wantReject: http.StatusBadRequest},
		{name: "failed validations", spec: spec, header: bearer(iss.sign(t, claims(map[string]any{"repository": "evil/repo"}))), wantReject: http.StatusBadRequest},
		{
			name:   "default audience",
			spec:   ReceiverSpec{OIDCProviders: []OIDCProvider{{IssuerURL: iss.URL(), Validations: provider.Validations}}},
			header: bearer(iss.sign(t, claims(map[string]any{"aud": DefaultOIDCAudience}))),
		},
		{
			name:   "default audience refuses another",
			spec:   ReceiverSpec{OIDCProviders: []OIDCProvider{{IssuerURL: iss.URL(), Validations: provider.Validations}}},
			header: bearer(iss.sign(t, claims(nil))), wantReject: http.StatusBadRequest,
		},
		{
			name: "variables resolve before validations",
			spec: ReceiverSpec{OIDCProviders: []OIDCProvider{{
				IssuerURL: iss.URL(), Audience: "flux",
				Variables:   []OIDCVariable{{Name: "allowed", Expression: `['my-org/my-repo']`}, {Name: "owner", Expression: `claims.repository.split('/')[0]`}},
				Validations: []OIDCValidation{{Expression: `claims.repository in vars.allowed && vars.owner == 'my-org'`, Message: "repo not allowed"}},
			}}},
			header: bearer(iss.sign(t, claims(nil))),
		},
		{
			name:   "a validation that is not boolean is a configuration error",
			spec:   ReceiverSpec{OIDCProviders: []OIDCProvider{{IssuerURL: iss.URL(), Audience: "flux", Validations: []OIDCValidation{{Expression: `claims.repository`, Message: "m"}}}}},
			header: bearer(iss.sign(t, claims(nil))), wantReject: http.StatusBadRequest,
		},
		{
			name:   "issuer and audience shorthand",
			spec:   ReceiverSpec{Issuer: iss.URL(), Audience: "flux"},
			header: bearer(iss.sign(t, claims(nil))),
		},
		{name: "no provider", header: bearer(iss.sign(t, claims(nil))), wantReject: http.StatusBadRequest},
		{
			name:   "issuer unreachable",
			spec:   ReceiverSpec{OIDCProviders: []OIDCProvider{{IssuerURL: closed.URL, Audience: "flux"}}},
			header: bearer(iss.sign(t, claims(map[string]any{"iss": closed.URL}))), wantReject: http.StatusBadRequest,
		},
	})
}

// TestGenericOIDCValidationMessages checks that every false validation is reported.
func TestGenericOIDCValidationMessages(t *testing.T) {
	iss := newReceiverTestIssuer(t)
	spec := ReceiverSpec{Type: "generic-oidc", OIDCProviders: []OIDCProvider{{
		IssuerURL: iss.URL(), Audience: "flux",
		Validations: []OIDCValidation{
			{Expression: `claims.repository == 'my-org/my-repo'`, Message: "wrong repo"},
			{Expression: `claims.environment == 'production'`, Message: "wrong environment"},
		},
	}}}
	tok := iss.sign(t, map[string]any{
		"iss": iss.URL(), "aud": "flux", "sub": "s", "exp": time.Now().Add(time.Minute).Unix(),
		"repository": "evil/repo", "environment": "staging",
	})
	_, err := ValidateContext(t.Context(), spec, Webhook{Header: http.Header{"Authorization": {"Bearer " + tok}}})
	if err == nil || !strings.Contains(err.Error(), "token validation failed: wrong repo; wrong environment") {
		t.Fatalf("err = %v", err)
	}
}

// receiverTamperJWT changes a signed token's "repository" claim, keeping its signature.
func receiverTamperJWT(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte("my-org/my-repo"), []byte("my-org/evil-repo"), 1)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}
