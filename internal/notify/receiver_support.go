package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// receiverEventAllowed reports whether event is one of events, compared case-insensitively
// as Flux does; an empty list allows every event.
func receiverEventAllowed(events []string, event string) bool {
	if len(events) == 0 {
		return true
	}
	for _, e := range events {
		if strings.EqualFold(e, event) {
			return true
		}
	}
	return false
}

// receiverAccepted is a valid request of a type that filters on events: ignored when the
// Receiver does not list its event.
func receiverAccepted(spec ReceiverSpec, event string, h http.Header, payload []byte) Accepted {
	unlisted := !receiverEventAllowed(spec.Events, event)
	return Accepted{
		Event:    event,
		Ignore:   unlisted,
		Unlisted: unlisted,
		Body:     receiverJSONBody(h, payload),
	}
}

// receiverJSONBody is what Flux offers a resourceFilter as the request body: payload decoded
// as a JSON object when the request's Content-Type says JSON, nil otherwise (and when it does
// not decode, where Flux fails the filter).
func receiverJSONBody(h http.Header, payload []byte) any {
	if !receiverIsJSON(h) {
		return nil
	}
	var body map[string]any
	if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&body); err != nil || body == nil {
		return nil
	}
	return body
}

// receiverIsJSON reports whether the Content-Type lists application/json, read as Flux
// does: comma-separated media types, stopping at the first that does not parse.
func receiverIsJSON(h http.Header) bool {
	for _, v := range strings.Split(h.Get("Content-Type"), ",") {
		t, _, err := mime.ParseMediaType(v)
		if err != nil {
			return false
		}
		if t == "application/json" {
			return true
		}
	}
	return false
}

// receiverDecodeFirst decodes the first JSON value of b into v, ignoring what follows it,
// the way Flux decodes the registries' payloads from the request body.
func receiverDecodeFirst(b []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(b)).Decode(v)
}

// receiverTokenEqual compares a header value with the Receiver's token in constant time.
func receiverTokenEqual(got string, token []byte) bool {
	return subtle.ConstantTimeCompare([]byte(got), token) == 1
}

// receiverHubPayload checks a GitHub-style delivery (GitHub, Gitea, Bitbucket Server) as
// Flux does with go-github: the signature is X-Hub-Signature-256, else X-Hub-Signature; the
// Content-Type must be JSON (the payload is the body) or a form (the payload is its
// "payload" field, the signature still covers the whole body); the signature is checked
// when one is sent or the token is not empty. It returns the payload.
func receiverHubPayload(h http.Header, body, token []byte) ([]byte, error) {
	signature := h.Get("X-Hub-Signature-256")
	if signature == "" {
		signature = h.Get("X-Hub-Signature")
	}
	contentType, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	var payload []byte
	switch contentType {
	case "application/json":
		payload = body
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		payload = []byte(form.Get("payload"))
	default:
		return nil, fmt.Errorf("webhook request has unsupported Content-Type %q", contentType)
	}
	if len(token) > 0 || signature != "" {
		if err := receiverCheckSignature(signature, body, token); err != nil {
			return nil, err
		}
	}
	return payload, nil
}

// receiverCheckSignature checks a "<hash>=<hex HMAC>" signature of body keyed with token,
// the hash being sha1, sha256 or sha512 (go-github's ValidateSignature, which Flux uses for
// github, bitbucket and generic-hmac). The comparison is constant-time.
func receiverCheckSignature(signature string, body, token []byte) error {
	if signature == "" {
		return errors.New("missing signature")
	}
	prefix, hexMAC, ok := strings.Cut(signature, "=")
	if !ok {
		return fmt.Errorf("error parsing signature %q", signature)
	}
	var newHash func() hash.Hash
	switch prefix {
	case "sha1":
		newHash = sha1.New
	case "sha256":
		newHash = sha256.New
	case "sha512":
		newHash = sha512.New
	default:
		return fmt.Errorf("unknown hash type prefix: %q", prefix)
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return fmt.Errorf("error decoding signature %q: %w", signature, err)
	}
	mac := hmac.New(newHash, token)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("payload signature check failed")
	}
	return nil
}
