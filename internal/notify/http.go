package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// httpClient returns the client a provider delivers with: c's proxy, TLS configuration and
// timeout; redirects are not followed (a webhook that redirects is misconfigured, and a
// redirect must not carry the credentials elsewhere). Transports are shared between clients
// of the same proxy and TLS configuration, so that deliveries reuse their connections.
func httpClient(c Config) (*http.Client, error) {
	tr, err := transports.get(c.Proxy, c.TLS)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Transport: tr,
		Timeout:   c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// transportKey identifies a transport: the proxy URL and the TLS configuration (the caller
// keeps one *tls.Config per Provider configuration, so its address names it).
type transportKey struct {
	proxy string
	tls   *tls.Config
}

// transportCache holds the transports in use; past maxTransports it starts over (the dropped
// transports' idle connections close).
type transportCache struct {
	mu sync.Mutex
	m  map[transportKey]*http.Transport
}

const maxTransports = 256

var transports transportCache

func (tc *transportCache) get(proxy string, tlsConfig *tls.Config) (*http.Transport, error) {
	key := transportKey{proxy: proxy, tls: tlsConfig}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tr, ok := tc.m[key]; ok {
		return tr, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.MaxIdleConnsPerHost = 16
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil || u.Host == "" {
			return nil, Permanent(fmt.Errorf("invalid proxy %q", redactURL(proxy)))
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if tlsConfig != nil {
		tr.TLSClientConfig = tlsConfig.Clone()
	}
	if tc.m == nil || len(tc.m) >= maxTransports {
		for _, old := range tc.m {
			old.CloseIdleConnections()
		}
		tc.m = map[transportKey]*http.Transport{}
	}
	tc.m[key] = tr
	return tr, nil
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
