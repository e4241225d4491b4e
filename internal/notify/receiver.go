package notify

import (
	"errors"
	"fmt"
	"net/http"
)

// Webhook is a request to a Receiver's path, its body already read (size-limited by the
// server).
type Webhook struct {
	Header http.Header
	Body   []byte
	Method string
}

// ReceiverSpec is what validation needs of a Receiver: its type, its secret token, the event
// types it accepts (empty: all), and, for generic-oidc, the audience and issuer it trusts.
type ReceiverSpec struct {
	Type   string
	Token  []byte
	Events []string
	// Audience and Issuer are generic-oidc's expectations (Flux's defaults apply when empty).
	Audience, Issuer string
}

// Accepted is a validated webhook.
type Accepted struct {
	// Event is the event type the request carries ("push", "ping" …), empty when the type has
	// none.
	Event string
	// Ignore is true for a valid request that must not trigger anything (GitHub's ping, an
	// event type the Receiver does not list): answered 200, nothing reconciled.
	Ignore bool
	// Body is the decoded JSON body, for resourceFilter expressions ("req.body"); nil when
	// the body is not JSON.
	Body any
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

// Validator checks one webhook for a Receiver type.
type Validator func(spec ReceiverSpec, w Webhook) (Accepted, error)

var validators = map[string]Validator{}

// registerReceiver makes a receiver type known; each type's file registers itself in init.
func registerReceiver(typ string, v Validator) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := validators[typ]; dup {
		panic("notify: receiver type registered twice: " + typ)
	}
	validators[typ] = v
}

// Validate checks w for spec.Type.
func Validate(spec ReceiverSpec, w Webhook) (Accepted, error) {
	mu.RLock()
	v, ok := validators[spec.Type]
	mu.RUnlock()
	if !ok {
		return Accepted{}, reject(http.StatusBadRequest, "unsupported receiver type '%s'", spec.Type)
	}
	return v(spec, w)
}

// ReceiverTypes lists the receiver types known.
func ReceiverTypes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(validators))
	for t := range validators {
		out = append(out, t)
	}
	return out
}
