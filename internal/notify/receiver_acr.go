package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("acr", validateACRReceiver) }

// acrPayload is the part of Azure Container Registry's webhook payload Flux decodes.
type acrPayload struct {
	Action string `json:"action"`
	Target struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"target"`
}

// validateACRReceiver accepts a body that decodes as ACR's webhook payload, its action
// ("push" …) as the event; ACR does not sign it and Flux does not filter its events.
func validateACRReceiver(_ context.Context, _ ReceiverSpec, w Webhook) (Accepted, error) {
	var p acrPayload
	if err := receiverDecodeFirst(w.Body, &p); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode ACR webhook payload: %w", err)
	}
	return Accepted{Event: p.Action, Body: receiverJSONBody(w.Header, w.Body)}, nil
}
