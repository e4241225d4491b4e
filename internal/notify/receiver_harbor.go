package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("harbor", validateHarborReceiver) }

// validateHarborReceiver checks a Harbor delivery: its Authorization header (Harbor's "Auth
// Header") must be the token, as is. Harbor's payload is not checked and events are not
// filtered, as in Flux.
func validateHarborReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	if !receiverTokenEqual(w.Header.Get("Authorization"), spec.Token) {
		return Accepted{}, reject(http.StatusBadRequest, "the Harbor Authorization header value does not match the receiver token")
	}
	return Accepted{Body: receiverJSONBody(w.Header, w.Body)}, nil
}
