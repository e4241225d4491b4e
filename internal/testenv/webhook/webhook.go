// Package webhook sends webhook requests as real senders do, for tests, the demo and the
// benchmark: a GitHub delivery signed with the Receiver's secret.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
)

// GitHub posts body to url as a GitHub webhook delivery of event type event with the delivery
// ID delivery, signed (X-Hub-Signature-256) with secret unless secret is empty, and returns the
// answer's status code.
func GitHub(ctx context.Context, url, secret, event, delivery string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if delivery != "" {
		req.Header.Set("X-GitHub-Delivery", delivery)
	}
	if secret != "" {
		req.Header.Set("X-Hub-Signature-256", "sha256="+Sign(secret, body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// Sign is the hex HMAC-SHA256 of body with secret, as GitHub signs deliveries.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// GitHubPushBody is the part of a GitHub push event Receivers may read: the ref and the commit.
func GitHubPushBody(ref, after, repository string) []byte {
	return []byte(fmt.Sprintf(`{"ref":%q,"after":%q,"repository":{"full_name":%q}}`, ref, after, repository))
}
