package notify

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/weirgitops/weir/internal/event"
)

const pubsubFakePublish = "/v1/projects/my-project/topics/my-topic:publish"

// pubsubExpectedBody is the publish request of e with attrs.
func pubsubExpectedBody(t *testing.T, e event.Event, attrs string) string {
	t.Helper()
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	msg := `{"data":"` + base64.StdEncoding.EncodeToString(payload) + `"`
	if attrs != "" {
		msg += `,"attributes":` + attrs
	}
	return `{"messages":[` + msg + `}]}`
}

func TestGooglePubSubServiceAccount(t *testing.T) {
	f := newForgeFake(t, false)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, key)})
	creds, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "my-project", "private_key_id": "kid-1",
		"private_key": string(pemKey), "client_email": "weir@my-project.iam.gserviceaccount.com",
		"token_uri": f.srv.URL + "/token",
	})
	f.on(http.MethodPost, "/token", func(r forgeRequest) (int, any) {
		form, _ := url.ParseQuery(string(r.Body))
		if form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("grant_type %q", form.Get("grant_type"))
		}
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(form.Get("assertion"), claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
		if err != nil {
			t.Errorf("assertion: %v", err)
			return http.StatusBadRequest, `{"error":"invalid_grant"}`
		}
		if tok.Header["kid"] != "kid-1" || claims["iss"] != "weir@my-project.iam.gserviceaccount.com" ||
			claims["aud"] != f.srv.URL+"/token" || !strings.Contains(claims["scope"].(string), "https://www.googleapis.com/auth/pubsub") {
			t.Errorf("assertion header %v claims %v", tok.Header, claims)
		}
		return http.StatusOK, `{"access_token":"ya29.access","expires_in":3599,"token_type":"Bearer"}`
	})
	f.reply(http.MethodPost, pubsubFakePublish, http.StatusOK, `{"messageIds":["1"]}`)

	c := Config{
		Type: "googlepubsub", Address: "my-project", Channel: "my-topic", Token: string(creds),
		Headers: map[string]string{"team": "platform"}, Timeout: 5 * time.Second,
	}
	n := mustNotifier(t, c)
	n.(*googlePubSub).publishURL = f.srv.URL + pubsubFakePublish

	e := forgeEvent(event.SeverityError, "HealthCheckFailed")
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "POST /token", "POST "+pubsubFakePublish)
	assertForgeHeader(t, reqs[0], "Content-Type", "application/x-www-form-urlencoded")
	assertForgeHeader(t, reqs[1], "Authorization", "Bearer ya29.access")
	assertJSON(t, reqs[1].Body, pubsubExpectedBody(t, e, `{"team":"platform"}`))

	// Commit status updates are for Git providers only.
	update := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	update.Metadata["commit_status"] = "update"
	if err := n.Post(t.Context(), update); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests())

	assertForgeFailures(t, n, e, func(status int) {
		f.reply(http.MethodPost, pubsubFakePublish, status, `{"error":{"code":1}}`)
	}, "ya29.access", "PRIVATE KEY")
}

func mustPKCS8(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGooglePubSubAuthorizedUserAndMetadata(t *testing.T) {
	f := newForgeFake(t, false)
	f.reply(http.MethodPost, pubsubFakePublish, http.StatusOK, `{"messageIds":["1"]}`)
	e := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")

	t.Run("authorized user", func(t *testing.T) {
		creds := `{"type":"authorized_user","client_id":"cid","client_secret":"csecret","refresh_token":"rtoken","token_uri":"` + f.srv.URL + `/token"}`
		f.on(http.MethodPost, "/token", func(r forgeRequest) (int, any) {
			form, _ := url.ParseQuery(string(r.Body))
			if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != "rtoken" || form.Get("client_secret") != "csecret" {
				t.Errorf("token form %v", form)
			}
			return http.StatusOK, `{"access_token":"ya29.user"}`
		})
		n := mustNotifier(t, Config{Type: "googlepubsub", Address: "my-project", Channel: "my-topic", Token: creds, Timeout: 5 * time.Second})
		n.(*googlePubSub).publishURL = f.srv.URL + pubsubFakePublish
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "POST /token", "POST "+pubsubFakePublish)
		assertForgeHeader(t, reqs[1], "Authorization", "Bearer ya29.user")
		assertJSON(t, reqs[1].Body, pubsubExpectedBody(t, e, ""))
	})

	t.Run("metadata server", func(t *testing.T) {
		t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(f.srv.URL, "http://"))
		f.on(http.MethodGet, "/computeMetadata/v1/instance/service-accounts/default/token", func(r forgeRequest) (int, any) {
			if r.Header.Get("Metadata-Flavor") != "Google" {
				return http.StatusForbidden, `missing Metadata-Flavor`
			}
			return http.StatusOK, `{"access_token":"ya29.node","expires_in":3599}`
		})
		n := mustNotifier(t, Config{Type: "googlepubsub", Address: "my-project", Channel: "my-topic", Timeout: 5 * time.Second})
		n.(*googlePubSub).publishURL = f.srv.URL + pubsubFakePublish
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "GET /computeMetadata/v1/instance/service-accounts/default/token?scopes="+
			url.QueryEscape("https://www.googleapis.com/auth/cloud-platform,https://www.googleapis.com/auth/pubsub"), "POST "+pubsubFakePublish)
		assertForgeHeader(t, reqs[1], "Authorization", "Bearer ya29.node")
	})

	t.Run("emulator", func(t *testing.T) {
		t.Setenv("PUBSUB_EMULATOR_HOST", strings.TrimPrefix(f.srv.URL, "http://"))
		n := mustNotifier(t, Config{Type: "googlepubsub", Address: "my-project", Channel: "my-topic", Timeout: 5 * time.Second})
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatalf("Post: %v", err)
		}
		reqs := f.requests()
		assertForgeCalls(t, reqs, "POST "+pubsubFakePublish)
		assertForgeHeader(t, reqs[0], "Authorization", "")
	})
}

func TestGooglePubSubConfig(t *testing.T) {
	for name, bad := range map[string]Config{
		"no project":       {Channel: "t"},
		"no topic":         {Address: "p"},
		"not JSON":         {Address: "p", Channel: "t", Token: "not json"},
		"external account": {Address: "p", Channel: "t", Token: `{"type":"external_account"}`},
		"service no key":   {Address: "p", Channel: "t", Token: `{"type":"service_account","client_email":"a@b"}`},
		"service bad key":  {Address: "p", Channel: "t", Token: `{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`},
		"user no refresh":  {Address: "p", Channel: "t", Token: `{"type":"authorized_user","client_id":"a","client_secret":"s3cret-client"}`},
	} {
		bad.Type = "googlepubsub"
		_, err := New(bad)
		if err == nil || Retryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		} else if strings.Contains(err.Error(), "s3cret-client") || strings.Contains(err.Error(), "AAAA") {
			t.Errorf("%s: error %q quotes the credentials", name, err)
		}
	}
}
