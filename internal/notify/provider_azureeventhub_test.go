package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

// eventHubFake is an Event Hubs stand-in over TLS, and the client TLS configuration that trusts
// it.
func eventHubFake(t *testing.T) (*forgeFake, *tls.Config) {
	t.Helper()
	f := newForgeFake(t, true)
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	return f, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestAzureEventHubSharedAccessKey(t *testing.T) {
	f, tlsConfig := eventHubFake(t)
	host := strings.TrimPrefix(f.srv.URL, "https://")
	const sasKey = "c2VjcmV0LWtleS1ieXRlcw=="
	connection := "Endpoint=sb://" + host + "/;SharedAccessKeyName=send;SharedAccessKey=" + sasKey + ";EntityPath=flux-events"
	const messages = "/flux-events/messages"
	f.on(http.MethodPost, messages, func(r forgeRequest) (int, any) {
		// The shared access signature is the HMAC of the resource and the expiry.
		sas, ok := strings.CutPrefix(r.Header.Get("Authorization"), "SharedAccessSignature ")
		if !ok {
			return http.StatusUnauthorized, "no SAS"
		}
		q, err := url.ParseQuery(sas)
		if err != nil {
			return http.StatusUnauthorized, "bad SAS"
		}
		resource := "https://" + host + "/flux-events"
		mac := hmac.New(sha256.New, []byte(sasKey))
		mac.Write([]byte(url.QueryEscape(resource) + "\n" + q.Get("se")))
		expiry, _ := strconv.ParseInt(q.Get("se"), 10, 64)
		if q.Get("sr") != resource || q.Get("skn") != "send" || q.Get("sig") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) ||
			time.Until(time.Unix(expiry, 0)) < 30*time.Minute {
			t.Errorf("SAS %q does not verify", sas)
			return http.StatusUnauthorized, "bad signature"
		}
		return http.StatusCreated, nil
	})

	c := Config{Type: "azureeventhub", Address: connection, TLS: tlsConfig, Timeout: 5 * time.Second}
	n := mustNotifier(t, c)
	e := forgeEvent(event.SeverityError, "HealthCheckFailed")
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "POST "+messages+"?api-version=2014-01&timeout=60")
	assertForgeHeader(t, reqs[0], "Content-Type", "application/atom+xml;type=entry;charset=utf-8")
	payload, _ := json.Marshal(e)
	assertJSON(t, reqs[0].Body, string(payload))

	update := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	update.Metadata["commit_status"] = "update"
	if err := n.Post(t.Context(), update); err != nil {
		t.Fatalf("Post: %v", err)
	}
	assertForgeCalls(t, f.requests())

	assertForgeFailures(t, n, e, func(status int) {
		f.reply(http.MethodPost, messages, status, `<Error><Code>`+strconv.Itoa(status)+`</Code></Error>`)
	}, sasKey)
}

func TestAzureEventHubBearerToken(t *testing.T) {
	f, tlsConfig := eventHubFake(t)
	f.reply(http.MethodPost, "/flux-events/messages", http.StatusCreated, nil)
	c := Config{Type: "azureeventhub", Address: "flux-events", Channel: "weir-ns", Token: forgeToken, TLS: tlsConfig, Timeout: 5 * time.Second}
	n := mustNotifier(t, c)
	h := n.(*azureEventHub)
	if h.messages != "https://weir-ns.servicebus.windows.net/flux-events/messages" {
		t.Fatalf("messages URL %q", h.messages)
	}
	h.messages = f.srv.URL + "/flux-events/messages"
	e := forgeEvent(event.SeverityInfo, "ReconciliationSucceeded")
	if err := n.Post(t.Context(), e); err != nil {
		t.Fatalf("Post: %v", err)
	}
	reqs := f.requests()
	assertForgeCalls(t, reqs, "POST /flux-events/messages?api-version=2014-01&timeout=60")
	assertForgeHeader(t, reqs[0], "Authorization", "Bearer "+forgeToken)

	assertForgeFailures(t, n, e, func(status int) {
		f.reply(http.MethodPost, "/flux-events/messages", status, `<Error/>`)
	}, forgeToken)
}

func TestAzureEventHubConfig(t *testing.T) {
	for authority, want := range map[string]string{
		"":                                   "ns.servicebus.windows.net",
		"https://login.chinacloudapi.cn/":    "ns.servicebus.chinacloudapi.cn",
		"https://login.microsoftonline.us/":  "ns.servicebus.usgovcloudapi.net",
		"https://login.microsoftonline.com/": "ns.servicebus.windows.net",
	} {
		t.Setenv("AZURE_AUTHORITY_HOST", authority)
		if got := qualifiedEventHubNamespace("ns"); got != want {
			t.Errorf("authority %q: namespace %q, want %q", authority, got, want)
		}
	}
	if got := qualifiedEventHubNamespace("ns.servicebus.windows.net"); got != "ns.servicebus.windows.net" {
		t.Errorf("qualified namespace changed to %q", got)
	}

	const key = "VerySecretKey="
	for name, bad := range map[string]Config{
		"no address":           {},
		"SAS and token":        {Address: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=" + key + ";EntityPath=h", Token: "t"},
		"SAS without hub":      {Address: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=" + key},
		"SAS without endpoint": {Address: "SharedAccessKeyName=a;SharedAccessKey=" + key + ";EntityPath=h"},
		"hub without token":    {Address: "hub", Channel: "ns"},
		"hub without channel":  {Address: "hub", Token: "t"},
	} {
		bad.Type = "azureeventhub"
		_, err := New(bad)
		if err == nil || Retryable(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %q quotes the key", name, err)
		}
	}
}
