package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/weirgitops/weir/internal/event"
)

func init() {
	register("generic", newGeneric)
	register("generic-hmac", newGenericHMAC)
}

// genericHeader names the controller that reported the event, as Flux's forwarder sends it.
const genericHeader = "gotk-component"

// genericNotifier posts the event as JSON (Flux's event API shape) to the address, with the
// Secret's headers; generic-hmac also signs the body with the token in X-Signature.
type genericNotifier struct {
	c       Config
	hmacKey []byte
	hc      *http.Client
}

func newGeneric(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &genericNotifier{c: c, hc: hc}, nil
}

func newGenericHMAC(c Config) (Notifier, error) {
	if c.Token == "" {
		return nil, Permanent(errors.New("generic-hmac provider: token (HMAC key) is required"))
	}
	n, err := newGeneric(c)
	if err != nil {
		return nil, err
	}
	g := n.(*genericNotifier)
	g.hmacKey = []byte(c.Token)
	return g, nil
}

func (g *genericNotifier) Post(ctx context.Context, e event.Event) error {
	body, err := chatJSON(e)
	if err != nil {
		return err
	}
	// Later headers win, as in Flux: the Secret's over the component, the signature over all.
	headers := map[string]string{http.CanonicalHeaderKey(genericHeader): e.ReportingController}
	for k, v := range g.c.Headers {
		headers[http.CanonicalHeaderKey(k)] = v
	}
	if g.hmacKey != nil {
		headers["X-Signature"] = "sha256=" + genericSign(body, g.hmacKey)
	}
	if _, err := do(ctx, g.hc, request{url: g.c.Address, body: body, contentType: "application/json", headers: headers}); err != nil {
		return chatRedactHeaders(chatRedact(fmt.Errorf("post event: %w", err), g.c), g.c.Headers)
	}
	return nil
}

// genericSign is the hex HMAC-SHA256 of body with key.
func genericSign(body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
