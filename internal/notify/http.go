package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// httpClient returns the client a provider delivers with: c's proxy, TLS configuration and
// timeout; redirects are not followed (a webhook that redirects is misconfigured, and a
// redirect must not carry the credentials elsewhere).
func httpClient(c Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	if c.Proxy != "" {
		u, err := url.Parse(c.Proxy)
		if err != nil || u.Host == "" {
			return nil, Permanent(fmt.Errorf("invalid proxy %q", redactURL(c.Proxy)))
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS.Clone()
	}
	return &http.Client{
		Transport: tr,
		Timeout:   c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// request is one HTTP request to a provider.
type request struct {
	method      string
	url         string
	body        []byte
	contentType string
	headers     map[string]string
	// basic sets HTTP basic authentication when user is not empty.
	user, password string
}

// do sends r with hc and returns the (size-limited) response body of a 2xx answer; any other
// answer is an *HTTPError.
func do(ctx context.Context, hc *http.Client, r request) ([]byte, error) {
	if r.method == "" {
		r.method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return nil, Permanent(fmt.Errorf("build request to %s: %w", redactURL(r.url), err))
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	resp, err := send(hc, req, r.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err := answerError(resp.StatusCode, body, r.url); err != nil {
		return nil, err
	}
	return body, nil
}

// send sends req, whose address is rawURL, with hc. The transport's error quotes the URL:
// the returned one names it redacted, keeping credentials and query values out of it.
func send(hc *http.Client, req *http.Request, rawURL string) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request to %s failed: %s", redactURL(rawURL), strings.ReplaceAll(err.Error(), rawURL, redactURL(rawURL)))
	}
	return resp, nil
}

// answerError is the *HTTPError of an answer from rawURL whose status is not 2xx, quoting the
// start of its body; nil for a 2xx answer.
func answerError(status int, body []byte, rawURL string) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	snippet := strings.TrimSpace(string(body))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "…"
	}
	return &HTTPError{Status: status, URL: redactURL(rawURL), Body: snippet}
}

// limitedBodyTransport bounds the response bodies that a client reads, for the clients whose
// callers read bodies themselves (go-github, OIDC discovery).
type limitedBodyTransport struct {
	rt    http.RoundTripper
	limit int64
}

func (t limitedBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if resp != nil && resp.Body != nil {
		resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, t.limit), Closer: resp.Body}
	}
	return resp, err
}

// limitedBody is a size-limited response body that closes the whole one.
type limitedBody struct {
	io.Reader
	io.Closer
}

// postJSON posts payload, JSON-encoded, to addr.
func postJSON(ctx context.Context, hc *http.Client, addr string, payload any, headers map[string]string) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return Permanent(fmt.Errorf("encode payload: %w", err))
	}
	_, err = do(ctx, hc, request{url: addr, body: body, contentType: "application/json", headers: headers})
	return err
}
