package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

func init() {
	registerReceiver("gcr", gcrTokenVerifier{
		keysURL: "https://www.googleapis.com/oauth2/v3/certs",
		issuers: []string{"accounts.google.com", "https://accounts.google.com"},
	}.validate)
}

// gcrTokenVerifier verifies the OIDC tokens Google Pub/Sub push subscriptions send, as
// Google's idtoken package does for Flux: signed by a key of keysURL, issued by one of
// issuers.
type gcrTokenVerifier struct {
	keysURL string
	issuers []string
	// client fetches the keys; nil: receiverOIDCClient.
	client *http.Client
	// now is the clock tokens expire by; nil: time.Now.
	now func() time.Time
}

// gcrPushPayload is the Pub/Sub push envelope Flux decodes.
type gcrPushPayload struct {
	Message struct {
		Data         string    `json:"data"`
		MessageID    string    `json:"messageId"`
		PublishTime  time.Time `json:"publishTime"`
		Subscription string    `json:"subscription"`
	} `json:"message"`
}

// gcrEvent is the Artifact/Container Registry notification the envelope carries.
type gcrEvent struct {
	Action string `json:"action"`
	Digest string `json:"digest"`
	Tag    string `json:"tag"`
}

// validate checks a Pub/Sub push of a registry notification (Flux's gcr type): the bearer
// token must be Google's, for the Secret's audience, issued to its (verified) service account
// email; the body a push envelope whose base64 data is the registry event. The event, not the
// envelope, is what resourceFilter expressions see, and its action the event type; events are
// not filtered.
func (v gcrTokenVerifier) validate(ctx context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	if spec.Email == "" {
		return Accepted{}, reject(http.StatusBadRequest, "invalid secret data: required field 'email' for GCR receiver")
	}
	if spec.Audience == "" {
		return Accepted{}, reject(http.StatusBadRequest, "invalid secret data: required field 'audience' for GCR receiver")
	}
	if err := v.authenticate(ctx, w.Header.Get("Authorization"), spec.Email, spec.Audience); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot authenticate GCR request: %w", err)
	}
	var p gcrPushPayload
	if err := receiverDecodeFirst(w.Body, &p); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode GCR webhook payload: %w", err)
	}
	// As Flux, a data field that is not base64 leaves what decoded before the error.
	raw, _ := base64.StdEncoding.DecodeString(p.Message.Data)
	var e gcrEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode GCR webhook body: %w", err)
	}
	unwrapped, err := json.Marshal(e)
	if err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode GCR webhook body: %w", err)
	}
	return Accepted{Event: e.Action, Body: receiverJSONBody(w.Header, unwrapped)}, nil
}

// authenticate verifies bearer's token: its signature with Google's keys, its expiry, its
// audience, its issuer, and that it was issued to email, verified.
func (v gcrTokenVerifier) authenticate(ctx context.Context, bearer, email, audience string) error {
	const prefix = "Bearer "
	if !strings.HasPrefix(bearer, prefix) {
		return errors.New("the Authorization header is missing or malformed")
	}
	raw := bearer[len(prefix):]
	client := v.client
	if client == nil {
		client = receiverOIDCClient()
	}
	ctx = oidc.ClientContext(ctx, client)
	verifier := oidc.NewVerifier(v.issuers[len(v.issuers)-1], oidc.NewRemoteKeySet(ctx, v.keysURL), &oidc.Config{
		ClientID:             audience,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
		SkipIssuerCheck:      true, // Google issues as either of v.issuers: checked below.
		Now:                  v.now,
	})
	token, err := verifier.Verify(ctx, raw)
	if err != nil {
		got, _ := receiverUnverifiedClaim(raw, "aud")
		if got == "" {
			got = "<unknown>"
		}
		return fmt.Errorf("invalid ID token (audience is '%s', want '%s'): %w", got, audience, err)
	}
	var claims map[string]any
	if err := token.Claims(&claims); err != nil {
		return fmt.Errorf("invalid ID token: %w", err)
	}
	issuer, _ := claims["iss"].(string)
	if !slices.Contains(v.issuers, issuer) {
		return fmt.Errorf("token issuer is '%s', want one of %q", issuer, v.issuers)
	}
	gotEmail, _ := claims["email"].(string)
	if gotEmail != email {
		return fmt.Errorf("token email is '%s', want '%s'", gotEmail, email)
	}
	if verified, _ := claims["email_verified"].(bool); !verified {
		return fmt.Errorf("token email '%s' is not verified", gotEmail)
	}
	return nil
}
