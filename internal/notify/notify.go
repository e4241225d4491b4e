package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/redact"
)

// Config is a Provider resolved: its spec and the data of its Secrets.
type Config struct {
	// Type is spec.type ("slack", "github", …).
	Type string
	// Address is spec.address, or the Secret's "address" key, which wins.
	Address string
	// Channel and Username are spec.channel and spec.username.
	Channel  string
	Username string
	// Token is the Secret's "token" key (a bearer token, an API key, an HMAC key for
	// generic-hmac: whatever the provider type uses it for).
	Token string
	// BasicUsername and BasicPassword are the Secret's "username" and "password" keys.
	BasicUsername, BasicPassword string
	// Headers are the Secret's "headers" key (YAML map), sent with every request of the
	// webhook-style providers.
	Headers map[string]string
	// Proxy is spec.proxy or the proxy Secret's address (with its credentials in the URL).
	Proxy string
	// TLS is the client TLS configuration from certSecretRef (nil: system roots).
	TLS *tls.Config
	// Timeout bounds one delivery (spec.timeout, Flux's default 15s).
	Timeout time.Duration
	// SecretData is the whole Secret, for the types that need more keys (githubdispatch's
	// GitHub App, googlepubsub's credentials, …).
	SecretData map[string][]byte
	// ProviderUID is the Provider's UID: commit-status providers derive the status key from it.
	ProviderUID string
	// CommitStatus is the Alert's rendered commit-status expression result, when set.
	CommitStatus string
}

// Notifier delivers events to one provider.
type Notifier interface {
	// Post delivers e. An error that retrying can fix (the service is down, slow, returns 5xx
	// or 429) is Retryable.
	Post(ctx context.Context, e event.Event) error
}

// Factory builds the Notifier of a provider type from its configuration; an error says what
// the configuration lacks (missing address, token, channel …).
type Factory func(c Config) (Notifier, error)

// registry maps the types of one kind (provider, receiver) to what serves them; each type's
// file registers itself in init, and lookups may come from any goroutine.
type registry[T any] struct {
	// kind names the types in the panic of a type registered twice.
	kind   string
	mu     sync.RWMutex
	byType map[string]T
}

// add makes typ known; a type registered twice is a programming error.
func (r *registry[T]) add(typ string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byType[typ]; dup {
		panic("notify: " + r.kind + " type registered twice: " + typ)
	}
	r.byType[typ] = v
}

// lookup returns what serves typ, and false when typ is not known.
func (r *registry[T]) lookup(typ string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.byType[typ]
	return v, ok
}

// types lists the types known, sorted.
func (r *registry[T]) types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.byType))
	for t := range r.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// providers are the provider types known.
var providers = &registry[Factory]{kind: "provider", byType: map[string]Factory{}}

// register makes a provider type known; each provider's file registers itself in init.
func register(typ string, f Factory) { providers.add(typ, f) }

// New returns the Notifier of c.Type.
func New(c Config) (Notifier, error) {
	f, ok := providers.lookup(c.Type)
	if !ok {
		return nil, fmt.Errorf("unsupported provider type '%s'", c.Type)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return f(c)
}

// Types lists the provider types known, sorted.
func Types() []string { return providers.types() }

// DefaultTimeout is Flux's default Provider timeout.
const DefaultTimeout = 15 * time.Second

// maxResponse bounds what is read of a provider's response body.
const maxResponse = 64 << 10

// HTTPError is a delivery the provider answered with a status other than 2xx.
type HTTPError struct {
	// Status is the HTTP status code.
	Status int
	// URL is the redacted address posted to.
	URL string
	// Body is the start of the response body, for the message.
	Body string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("request to %s failed with status %d", e.URL, e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Retryable reports whether delivering again may succeed: network errors, timeouts, 429 and
// 5xx answers are; other answers (401, 403, 404, 400) and configuration errors are not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	var pe *PermanentError
	return !errors.As(err, &pe)
}

// PermanentError is a failure that retrying cannot fix (a bad address, a payload the
// provider refuses to build).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError.
func Permanent(err error) error { return &PermanentError{Err: err} }

// redactURL is the scheme and host of u, for messages: webhook addresses often carry their
// secret in the path (Slack, Discord, Telegram), the query or the userinfo.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return redact.Mask
	}
	out := p.Scheme + "://" + p.Host
	if p.Path != "" && p.Path != "/" || p.RawQuery != "" {
		out += "/" + redact.Mask
	}
	return out
}

// parseAddress checks that addr is an absolute http(s) URL.
func parseAddress(addr string) (*url.URL, error) {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, Permanent(fmt.Errorf("invalid address %q: want an http or https URL", redactURL(addr)))
	}
	return u, nil
}
