package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

func init() { registerReceiver("nexus", validateNexusReceiver) }

// nexusPayload is the part of Nexus Repository's webhook payload Flux decodes.
type nexusPayload struct {
	Action         string `json:"action"`
	RepositoryName string `json:"repositoryName"`
}

// validateNexusReceiver checks a Nexus delivery: X-Nexus-Webhook-Signature must be the
// lowercase hex HMAC-SHA1 of the body keyed with the token, and the body Nexus's JSON
// payload, its action ("CREATED" …) as the event; events are not filtered, as in Flux.
func validateNexusReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	signature := w.Header.Get("X-Nexus-Webhook-Signature")
	if signature == "" {
		return Accepted{}, reject(http.StatusBadRequest, "the Nexus signature is missing from header")
	}
	mac := hmac.New(sha1.New, spec.Token)
	mac.Write(w.Body)
	if !hmac.Equal([]byte(signature), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return Accepted{}, reject(http.StatusBadRequest, "invalid Nexus signature")
	}
	var p nexusPayload
	if err := json.Unmarshal(w.Body, &p); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode Nexus webhook payload: %w", err)
	}
	return Accepted{Event: p.Action, Body: receiverJSONBody(w.Header, w.Body)}, nil
}
