package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("dockerhub", validateDockerHubReceiver) }

// dockerHubPayload is the part of DockerHub's push payload Flux decodes.
type dockerHubPayload struct {
	PushData struct {
		Tag string `json:"tag"`
	} `json:"push_data"`
	Repository struct {
		URL string `json:"repo_url"`
	} `json:"repository"`
}

// validateDockerHubReceiver accepts a body that decodes as DockerHub's push payload; DockerHub
// does not sign its webhooks, so the secret path is the only authentication, as in Flux.
func validateDockerHubReceiver(_ context.Context, _ ReceiverSpec, w Webhook) (Accepted, error) {
	var p dockerHubPayload
	if err := receiverDecodeFirst(w.Body, &p); err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "cannot decode DockerHub webhook payload: %w", err)
	}
	return Accepted{Body: receiverJSONBody(w.Header, w.Body)}, nil
}
