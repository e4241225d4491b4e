package notify

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("googlepubsub", newGooglePubSub) }

// Google endpoints; the environment variables Google's client libraries read override them.
const (
	pubsubAPI           = "https://pubsub.googleapis.com"
	googleTokenURI      = "https://oauth2.googleapis.com/token"
	gceMetadataHost     = "metadata.google.internal"
	pubsubScopes        = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/pubsub"
	googleJWTBearerType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// googlePubSub publishes each event, JSON-encoded, as one message on a Pub/Sub topic, as
// Flux's googlepubsub provider: the address is the GCP project ID, the channel the topic ID,
// the Secret's headers become the message attributes. It authenticates with the credentials
// JSON in the Secret's token (a service account key or an authorized user), else with the
// default service account of the GCE metadata server (GKE workload identity); with
// PUBSUB_EMULATOR_HOST set it publishes to the emulator without credentials, as Google's client
// does. Events only meant for commit statuses are skipped.
//
// It speaks Pub/Sub's REST API (projects.topics.publish) rather than linking Google's gRPC
// client library.
type googlePubSub struct {
	publishURL string
	attributes map[string]string
	// creds signs service account assertions or holds a refresh token; nil means the metadata
	// server, unless emulator.
	creds        *googleCredentials
	emulator     bool
	metadataHost string
	hc           *http.Client
	timeout      time.Duration
	now          func() time.Time
}

// googleCredentials is the part of a credentials JSON file weir uses.
type googleCredentials struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`

	key *rsa.PrivateKey
}

func newGooglePubSub(c Config) (Notifier, error) {
	project, topic := strings.TrimSpace(c.Address), strings.TrimSpace(c.Channel)
	if project == "" {
		return nil, Permanent(errors.New("GCP project ID cannot be empty"))
	}
	if topic == "" {
		return nil, Permanent(errors.New("GCP Pub/Sub topic ID cannot be empty"))
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	g := &googlePubSub{
		attributes:   c.Headers,
		metadataHost: gceMetadataHost,
		hc:           hc,
		timeout:      c.Timeout,
		now:          time.Now,
	}
	base := pubsubAPI
	switch host := os.Getenv("PUBSUB_EMULATOR_HOST"); {
	case host != "":
		base, g.emulator = "http://"+host, true
	case c.Token != "":
		if g.creds, err = parseGoogleCredentials([]byte(c.Token)); err != nil {
			return nil, err
		}
	}
	if host := os.Getenv("GCE_METADATA_HOST"); host != "" {
		g.metadataHost = host
	}
	g.publishURL = base + "/v1/projects/" + url.PathEscape(project) + "/topics/" + url.PathEscape(topic) + ":publish"
	return g, nil
}

// parseGoogleCredentials reads a service account key or authorized user credentials file.
func parseGoogleCredentials(data []byte) (*googleCredentials, error) {
	var gc googleCredentials
	if err := json.Unmarshal(data, &gc); err != nil {
		// The decoder's message quotes at most a character of the input.
		return nil, Permanent(fmt.Errorf("invalid GCP credentials JSON: %w", err))
	}
	switch gc.Type {
	case "service_account":
		if gc.ClientEmail == "" || gc.PrivateKey == "" {
			return nil, Permanent(errors.New("invalid GCP service account key: client_email and private_key are required"))
		}
		key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(gc.PrivateKey))
		if err != nil {
			return nil, Permanent(fmt.Errorf("invalid GCP service account private key: %w", err))
		}
		gc.key = key
	case "authorized_user":
		if gc.ClientID == "" || gc.ClientSecret == "" || gc.RefreshToken == "" {
			return nil, Permanent(errors.New("invalid GCP authorized user credentials: client_id, client_secret and refresh_token are required"))
		}
	default:
		return nil, Permanent(fmt.Errorf("unsupported GCP credentials type %q: want service_account or authorized_user", gc.Type))
	}
	if gc.TokenURI == "" {
		gc.TokenURI = googleTokenURI
	}
	return &gc, nil
}

// pubsubMessage is one message of a publish request.
type pubsubMessage struct {
	// Data is the event JSON; encoding/json writes []byte as base64, as Pub/Sub wants it.
	Data       []byte            `json:"data"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

func (g *googlePubSub) Post(ctx context.Context, e event.Event) error {
	payload, ok, err := forwardedEvent(e, "error json-marshaling event")
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()

	var headers map[string]string
	if !g.emulator {
		token, err := g.accessToken(ctx)
		if err != nil {
			return err
		}
		headers = map[string]string{"Authorization": "Bearer " + token}
	}
	attrs := g.attributes
	if len(attrs) == 0 {
		attrs = nil
	}
	body := map[string][]pubsubMessage{"messages": {{Data: payload, Attributes: attrs}}}
	if err := callAPI(ctx, g.hc, apiCall{method: http.MethodPost, url: g.publishURL, body: body, headers: headers}, nil); err != nil {
		return fmt.Errorf("error publishing to GCP Pub/Sub topic: %w", err)
	}
	return nil
}

// googleToken is an OAuth2 token endpoint's answer.
type googleToken struct {
	AccessToken string `json:"access_token"`
}

// accessToken gets an access token for Pub/Sub from the credentials or the metadata server.
func (g *googlePubSub) accessToken(ctx context.Context) (string, error) {
	var tok googleToken
	switch {
	case g.creds == nil:
		u := "http://" + g.metadataHost + "/computeMetadata/v1/instance/service-accounts/default/token?" +
			url.Values{"scopes": {strings.ReplaceAll(pubsubScopes, " ", ",")}}.Encode()
		// The metadata server is local to the node: no proxy.
		hc := &http.Client{Timeout: g.timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		if err := callAPI(ctx, hc, apiCall{method: http.MethodGet, url: u, headers: map[string]string{"Metadata-Flavor": "Google"}}, &tok); err != nil {
			return "", fmt.Errorf("get GCP token from the metadata server: %w", err)
		}
	case g.creds.Type == "service_account":
		now := g.now()
		t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss":   g.creds.ClientEmail,
			"scope": pubsubScopes,
			"aud":   g.creds.TokenURI,
			"iat":   now.Unix(),
			"exp":   now.Add(time.Hour).Unix(),
		})
		if g.creds.PrivateKeyID != "" {
			t.Header["kid"] = g.creds.PrivateKeyID
		}
		assertion, err := t.SignedString(g.creds.key)
		if err != nil {
			return "", Permanent(fmt.Errorf("sign GCP service account assertion: %w", err))
		}
		form := url.Values{"grant_type": {googleJWTBearerType}, "assertion": {assertion}}
		if err := g.tokenRequest(ctx, form, &tok); err != nil {
			return "", err
		}
	default:
		form := url.Values{
			"grant_type":    {"refresh_token"},
			"client_id":     {g.creds.ClientID},
			"client_secret": {g.creds.ClientSecret},
			"refresh_token": {g.creds.RefreshToken},
		}
		if err := g.tokenRequest(ctx, form, &tok); err != nil {
			return "", err
		}
	}
	if tok.AccessToken == "" {
		return "", errors.New("get GCP token: the answer has no access token")
	}
	return tok.AccessToken, nil
}

func (g *googlePubSub) tokenRequest(ctx context.Context, form url.Values, tok *googleToken) error {
	a := apiCall{
		method: http.MethodPost, url: g.creds.TokenURI,
		rawBody: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded",
	}
	if err := callAPI(ctx, g.hc, a, tok); err != nil {
		return fmt.Errorf("get GCP token: %w", err)
	}
	return nil
}
