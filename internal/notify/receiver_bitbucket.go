package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("bitbucket", validateBitbucketReceiver) }

// validateBitbucketReceiver checks a Bitbucket Server delivery: its X-Hub-Signature HMAC of
// the body keyed with the token (checked as GitHub's), and its X-Event-Key
// ("repo:refs_changed" …) against the Receiver's events.
func validateBitbucketReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	payload, err := receiverHubPayload(w.Header, w.Body, spec.Token)
	if err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "the Bitbucket server signature header is invalid, err: %w", err)
	}
	return receiverAccepted(spec, w.Header.Get("X-Event-Key"), w.Header, payload), nil
}
