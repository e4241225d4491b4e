package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxAPIResponse bounds what is read of a forge API's answer: lists of statuses and comments
// are larger than a webhook's reply.
const maxAPIResponse = 2 << 20

// apiCall is one call to a forge's JSON API (GitLab, Gitea, Bitbucket, Azure DevOps, Pub/Sub).
type apiCall struct {
	method string
	url    string
	// body is JSON-encoded when not nil.
	body any
	// rawBody is sent as is, with contentType, when body is nil.
	rawBody     []byte
	contentType string
	headers     map[string]string
	// user and password set basic authentication when either is not empty.
	user, password string
}

// callAPI sends a and decodes a 2xx answer into out (when not nil); any other answer is an
// *HTTPError. Errors name the URL redacted, never a header.
func callAPI(ctx context.Context, hc *http.Client, a apiCall, out any) error {
	var body []byte
	contentType := a.contentType
	if a.body != nil {
		b, err := json.Marshal(a.body)
		if err != nil {
			return Permanent(fmt.Errorf("encode request to %s: %w", redactURL(a.url), err))
		}
		body, contentType = b, "application/json"
	} else if a.rawBody != nil {
		body = a.rawBody
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, a.method, a.url, rd)
	if err != nil {
		return Permanent(fmt.Errorf("build request to %s: %w", redactURL(a.url), err))
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range a.headers {
		req.Header.Set(k, v)
	}
	if a.user != "" || a.password != "" {
		req.SetBasicAuth(a.user, a.password)
	}
	resp, err := send(hc, req, a.url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return fmt.Errorf("read answer of %s: %w", redactURL(a.url), err)
	}
	if err := answerError(resp.StatusCode, data, a.url); err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer of %s: %w", redactURL(a.url), err)
	}
	return nil
}

// isNotFound reports whether err is a 404 answer.
func isNotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Status == http.StatusNotFound
}
