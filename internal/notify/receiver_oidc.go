package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// receiverMaxKeyDocument bounds what is read of an OIDC discovery document or key set.
const receiverMaxKeyDocument = 256 << 10

// receiverOIDCCostLimit bounds the work of one claims expression.
const receiverOIDCCostLimit = 1_000_000

// receiverOIDCClient is the client of discovery and key set fetches: each bounded by
// ReceiverFetchTimeout and by receiverMaxKeyDocument.
func receiverOIDCClient() *http.Client {
	return &http.Client{
		Timeout:   ReceiverFetchTimeout,
		Transport: limitedBodyTransport{rt: http.DefaultTransport, limit: receiverMaxKeyDocument},
	}
}

// receiverUnverifiedClaim reads a string claim of a JWT without verifying it, to choose the
// provider (or explain a failure); nothing read so is trusted.
func receiverUnverifiedClaim(raw, name string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("failed to decode token payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("failed to parse token payload: %w", err)
	}
	v, _ := claims[name].(string)
	return v, nil
}

// verifyGenericOIDCToken verifies the bearer token of a generic-oidc request as Flux does:
// the provider whose IssuerURL is the token's "iss" is discovered, the token's signature,
// expiry and audience are verified with its keys, then its variables and validations are
// evaluated over the claims, which it returns.
func verifyGenericOIDCToken(ctx context.Context, client *http.Client, providers []OIDCProvider, authorization string) (map[string]any, error) {
	if len(providers) == 0 {
		return nil, errors.New("generic-oidc receiver has no oidcProviders configured")
	}
	const prefix = "Bearer "
	if !strings.HasPrefix(authorization, prefix) {
		return nil, errors.New("the Authorization header is missing or malformed")
	}
	raw := strings.TrimSpace(authorization[len(prefix):])
	if raw == "" {
		return nil, errors.New("the Authorization header is missing a bearer token")
	}
	iss, err := receiverUnverifiedClaim(raw, "iss")
	if err != nil {
		return nil, fmt.Errorf("failed to parse bearer token: %w", err)
	}
	if iss == "" {
		return nil, errors.New("failed to parse bearer token: token is missing the 'iss' claim")
	}
	var p *OIDCProvider
	for i := range providers {
		if providers[i].IssuerURL == iss {
			p = &providers[i]
			break
		}
	}
	if p == nil {
		return nil, fmt.Errorf("no oidcProvider configured for issuer %q", iss)
	}
	ctx = oidc.ClientContext(ctx, client)
	provider, err := oidc.NewProvider(ctx, p.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("failed to initialize OIDC provider for issuer %q: %w", p.IssuerURL, err)
	}
	audience := p.Audience
	if audience == "" {
		audience = DefaultOIDCAudience
	}
	token, err := provider.Verifier(&oidc.Config{ClientID: audience}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("failed to verify OIDC token: %w", err)
	}
	var claims map[string]any
	if err := token.Claims(&claims); err != nil {
		return nil, fmt.Errorf("failed to extract OIDC token claims: %w", err)
	}
	if claims == nil {
		claims = map[string]any{}
	}
	if err := evaluateOIDCClaims(ctx, *p, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// evaluateOIDCClaims evaluates p's variables in order, then every validation, over claims;
// the messages of the validations that are false are joined in the error.
func evaluateOIDCClaims(ctx context.Context, p OIDCProvider, claims map[string]any) error {
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
		cel.Variable("claims", cel.ObjectType("google.protobuf.Struct")),
		cel.Variable("vars", cel.ObjectType("google.protobuf.Struct")),
	)
	if err != nil {
		return fmt.Errorf("failed to create CEL environment: %w", err)
	}
	compile := func(expr string, boolean bool) (cel.Program, error) {
		ast, iss := env.Compile(expr)
		if iss != nil && iss.Err() != nil {
			return nil, fmt.Errorf("failed to parse the CEL expression '%s': %w", expr, iss.Err())
		}
		if boolean && !ast.OutputType().IsExactType(cel.BoolType) {
			return nil, fmt.Errorf("CEL expression output type mismatch: expected bool, got %s", ast.OutputType())
		}
		return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100), cel.CostLimit(receiverOIDCCostLimit))
	}
	invalid := func(err error) error {
		return fmt.Errorf("invalid oidcProvider configuration for issuer %q: %w", p.IssuerURL, err)
	}
	vars := map[string]any{}
	data := map[string]any{"claims": claims, "vars": vars}
	for _, v := range p.Variables {
		prg, err := compile(v.Expression, false)
		if err != nil {
			return invalid(fmt.Errorf("invalid expression for variable %q: %w", v.Name, err))
		}
		val, _, err := prg.ContextEval(ctx, data)
		if err != nil {
			return fmt.Errorf("failed to evaluate variable %q: %w", v.Name, err)
		}
		vars[v.Name] = val
	}
	var failures []string
	for _, v := range p.Validations {
		prg, err := compile(v.Expression, true)
		if err != nil {
			return invalid(fmt.Errorf("invalid expression for validation %q: %w", v.Message, err))
		}
		val, _, err := prg.ContextEval(ctx, data)
		if err != nil {
			return fmt.Errorf("failed to evaluate validation: %w", err)
		}
		ok, isBool := receiverCELBool(val)
		if !isBool {
			return fmt.Errorf("failed to evaluate validation: '%s' is not a boolean", v.Expression)
		}
		if !ok {
			failures = append(failures, v.Message)
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("token validation failed: %s", strings.Join(failures, "; "))
	}
	return nil
}

// receiverCELBool is val as a bool, and whether it is one.
func receiverCELBool(val ref.Val) (value, ok bool) {
	b, ok := val.Value().(bool)
	return b, ok
}
