package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("gitlab", validateGitLabReceiver) }

// validateGitLabReceiver checks a GitLab delivery: its X-Gitlab-Token must be the token,
// and its X-Gitlab-Event ("Push Hook" …) one of the Receiver's events.
func validateGitLabReceiver(_ context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	if !receiverTokenEqual(w.Header.Get("X-Gitlab-Token"), spec.Token) {
		return Accepted{}, reject(http.StatusBadRequest, "the X-Gitlab-Token header value does not match the receiver token")
	}
	return receiverAccepted(spec, w.Header.Get("X-Gitlab-Event"), w.Header, w.Body), nil
}
