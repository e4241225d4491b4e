package notify

import (
	"context"
	"net/http"
)

func init() { registerReceiver("generic-oidc", validateGenericOIDCReceiver) }

// validateGenericOIDCReceiver checks the request's "Authorization: Bearer <JWT>" against the
// Receiver's OIDC providers (Flux's generic-oidc type): the verified claims are returned for
// resourceFilter expressions. Events are not filtered.
func validateGenericOIDCReceiver(ctx context.Context, spec ReceiverSpec, w Webhook) (Accepted, error) {
	providers := spec.OIDCProviders
	if len(providers) == 0 && spec.Issuer != "" {
		providers = []OIDCProvider{{IssuerURL: spec.Issuer, Audience: spec.Audience}}
	}
	claims, err := verifyGenericOIDCToken(ctx, receiverOIDCClient(), providers, w.Header.Get("Authorization"))
	if err != nil {
		return Accepted{}, reject(http.StatusBadRequest, "%w", err)
	}
	return Accepted{Body: receiverJSONBody(w.Header, w.Body), Claims: claims}, nil
}
