package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("github", validateGitHubReceiver) }

// validateGitHubReceiver checks a GitHub (or Gitea) delivery: its X-Hub-Signature-256 (or
// legacy X-Hub-Signature) HMAC of the body keyed with the token, and its X-GitHub-Event
// against the Receiver's events. A ping is valid but triggers nothing.
func validateGitHubReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	payload, err := receiverHubPayload(w.Header, w.Body, spec.Token)
	if err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "the GitHub signature header is invalid, err: %w", err)
	}
	a := receiverAccepted(spec, w.Header.Get("X-GitHub-Event"), w.Header, payload)
	if a.Event == "ping" {
		// Valid whatever events says, and never a trigger.
		a.Ignore, a.Unlisted = true, false
	}
	return a, nil
}
