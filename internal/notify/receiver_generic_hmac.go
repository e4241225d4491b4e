package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("generic-hmac", validateGenericHMACReceiver) }

// validateGenericHMACReceiver checks the X-Signature header, "<sha1|sha256|sha512>=<hex>",
// an HMAC of the body keyed with the token (Flux's generic-hmac type, which does not filter
// on events).
func validateGenericHMACReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	if err := receiverCheckSignature(w.Header.Get("X-Signature"), w.Body, spec.Token); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "unable to validate HMAC signature: %w", err)
	}
	return Accepted{Body: receiverJSONBody(w.Header, w.Body)}, nil
}
