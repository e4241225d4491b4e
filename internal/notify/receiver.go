package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Webhook is a request to a Receiver's path, its body already read (size-limited by the
// server).
type Webhook struct {
	Header http.Header
	Body   []byte
	Method string
}

// ReceiverSpec is what validation needs of a Receiver: its type, its secret token, the event
// types it accepts (empty: all), and, for generic-oidc and gcr, the token issuers it trusts.
type ReceiverSpec struct {
	Type   string
	Token  []byte
	Events []string
	// OIDCProviders are generic-oidc's spec.oidcProviders: the issuers it trusts, each with
	// its audience and the CEL checks a token's claims must pass.
	OIDCProviders []OIDCProvider
	// Issuer and Audience are a shorthand for generic-oidc: one provider without CEL
	// checks, used when OIDCProviders is empty. For gcr, Audience is the Secret's "audience"
	// key, the audience the Pub/Sub push subscription's tokens carry.
	Audience, Issuer string
	// Email is gcr's Secret "email" key: the service account the Pub/Sub push subscription
	// signs its tokens as.
	Email string
}

// OIDCProvider is one issuer a generic-oidc Receiver trusts (Flux's OIDCProvider).
type OIDCProvider struct {
	// IssuerURL is matched exactly against the token's "iss" claim and used for discovery.
	IssuerURL string
	// Audience is the "aud" the token must carry; empty means DefaultOIDCAudience.
	Audience string
	// Variables are named CEL expressions over "claims" (and the variables before them),
	// exposed to Validations as "vars.<name>".
	Variables []OIDCVariable
	// Validations are CEL boolean expressions over "claims" and "vars": every one must be
	// true, the Message of each false one is returned.
	Validations []OIDCValidation
}

// OIDCVariable is a named CEL expression of an OIDCProvider.
type OIDCVariable struct{ Name, Expression string }

// OIDCValidation is a CEL boolean expression of an OIDCProvider and the message a false
// result answers with.
type OIDCValidation struct{ Expression, Message string }

// DefaultOIDCAudience is the audience a generic-oidc token must carry when none is set.
const DefaultOIDCAudience = "notification-controller"

// Accepted is a validated webhook.
type Accepted struct {
	// Event is the event type the request carries ("push", "ping" …), empty when the type has
	// none.
	Event string
	// Ignore is true for a valid request that must not trigger anything (GitHub's ping, an
	// event type the Receiver does not list): nothing is reconciled.
	Ignore bool
	// Unlisted is true when the event type is not one the Receiver lists: Flux refuses such a
	// request (400) where a ping is answered 200.
	Unlisted bool
	// Body is the decoded JSON body, for resourceFilter expressions ("req.body"); nil when
	// the body is not JSON.
	Body any
	// Claims are a generic-oidc token's verified claims, for resourceFilter expressions
	// ("claims"); nil for other types.
	Claims map[string]any
}

// RejectError is a request refused, with the HTTP status to answer.
type RejectError struct {
	Status int
	Err    error
}

func (e *RejectError) Error() string { return e.Err.Error() }
func (e *RejectError) Unwrap() error { return e.Err }

// reject returns a RejectError.
func reject(status int, format string, args ...any) error {
	return &RejectError{Status: status, Err: fmt.Errorf(format, args...)}
}

// RejectStatus is the HTTP status to answer err with (400 when err is not a RejectError).
func RejectStatus(err error) int {
	var r *RejectError
	if errors.As(err, &r) {
		return r.Status
	}
	return http.StatusBadRequest
}

// Validator checks one webhook for a Receiver type; ctx bounds the network calls it makes
// (OIDC discovery and key sets for gcr and generic-oidc).
type Validator func(ctx context.Context, spec ReceiverSpec, w Webhook) (Accepted, error)

// receivers are the receiver types known.
var receivers = &registry[Validator]{kind: "receiver", byType: map[string]Validator{}}

// registerReceiver makes a receiver type known; each type's file registers itself in init.
func registerReceiver(typ string, v Validator) { receivers.add(typ, v) }

// ValidateContext checks w for spec.Type; ctx (the request's) bounds the network calls of
// the types that fetch keys (gcr, generic-oidc), each also bounded by ReceiverFetchTimeout.
func ValidateContext(ctx context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	v, ok := receivers.lookup(spec.Type)
	if !ok {
		return Accepted{}, reject(http.StatusBadRequest, "unsupported receiver type '%s'", spec.Type)
	}
	return v(ctx, spec, w)
}

// Validate is ValidateContext without a caller's context: key fetches are bounded by
// ReceiverFetchTimeout only. Servers should prefer ValidateContext with the request's context.
func Validate(spec ReceiverSpec, w Webhook) (Accepted, error) {
	return ValidateContext(context.Background(), spec, w)
}

// ReceiverFetchTimeout bounds each OIDC discovery and key set fetch of a validation.
const ReceiverFetchTimeout = 10 * time.Second

// ReceiverTypes lists the receiver types known, sorted.
func ReceiverTypes() []string { return receivers.types() }
