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
	resp, err := hc.Do(req)
	if err != nil {
		// The error quotes the URL: keep credentials and query values out of it.
		return nil, fmt.Errorf("request to %s failed: %s", redactURL(r.url), strings.ReplaceAll(err.Error(), r.url, redactURL(r.url)))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		return nil, &HTTPError{Status: resp.StatusCode, URL: redactURL(r.url), Body: snippet}
	}
	return body, nil
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
