package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("quay", validateQuayReceiver) }

// quayPayload is the part of Quay's repository push notification Flux decodes.
type quayPayload struct {
	DockerURL   string   `json:"docker_url"`
	UpdatedTags []string `json:"updated_tags"`
}

// validateQuayReceiver accepts a body that decodes as Quay's repository push notification;
// Quay does not sign it, so the secret path is the only authentication, as in Flux.
func validateQuayReceiver(_ context.Context, _ ReceiverSpec, w Webhook) (Accepted, error) {
	var p quayPayload
	if err := receiverDecodeFirst(w.Body, &p); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode Quay webhook payload: %w", err)
	}
	return Accepted{Body: receiverJSONBody(w.Header, w.Body)}, nil
}
