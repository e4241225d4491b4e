package notify

import "context"

func init() { registerReceiver("generic", validateGenericReceiver) }

// validateGenericReceiver accepts any request: the secret webhook path is the only
// authentication (Flux's generic type, which does not filter on events).
func validateGenericReceiver(_ context.Context, _ ReceiverSpec, w Webhook) (Accepted, error) {
	return Accepted{Body: receiverJSONBody(w.Header, w.Body)}, nil
}
