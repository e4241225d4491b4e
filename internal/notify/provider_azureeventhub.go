package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("azureeventhub", newAzureEventHub) }

// azureEventHubContentType is the content type the Event Hubs REST API takes for one event.
const azureEventHubContentType = "application/atom+xml;type=entry;charset=utf-8"

// azureEventHub sends each event, JSON-encoded, to an Azure Event Hub, as Flux's
// azureeventhub provider. The address is either a connection string with a shared access key
// (Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=<hub>), or
// the event hub's name, with the namespace as the channel and an Azure AD token as the
// Secret's token. Events only meant for commit statuses are skipped.
//
// It speaks the Event Hubs REST API (send event) over HTTPS rather than linking the AMQP
// client library.
type azureEventHub struct {
	// messages is https://<namespace>/<hub>/messages.
	messages string
	// resource is what a SAS token grants access to, https://<namespace>/<hub>.
	resource         string
	sasKeyName       string
	sasKey           string
	sasSignature     string
	bearer           string
	hc               *http.Client
	timeout          time.Duration
	now              func() time.Time
	sasTokenLifetime time.Duration
}

func newAzureEventHub(c Config) (Notifier, error) {
	addr := strings.TrimSpace(c.Address)
	if addr == "" {
		return nil, Permanent(errors.New("endpoint URL cannot be empty"))
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	h := &azureEventHub{hc: hc, timeout: c.Timeout, now: time.Now, sasTokenLifetime: time.Hour}
	var namespace, hub string
	if strings.Contains(addr, "SharedAccessKey") || strings.Contains(addr, "SharedAccessSignature") {
		if c.Token != "" {
			return nil, Permanent(errors.New("jwt token and SAS authentication cannot be set at the same time"))
		}
		cs, err := parseEventHubConnectionString(addr)
		if err != nil {
			return nil, err
		}
		namespace, hub = cs.namespace, cs.entityPath
		h.sasKeyName, h.sasKey, h.sasSignature = cs.keyName, cs.key, cs.signature
	} else {
		if c.Token == "" {
			return nil, Permanent(errors.New("azure event hub token cannot be empty: set the Secret's token, or a connection string as the address"))
		}
		if strings.TrimSpace(c.Channel) == "" {
			return nil, Permanent(errors.New("azure event hub namespace (channel) cannot be empty"))
		}
		namespace, hub = qualifiedEventHubNamespace(strings.TrimSpace(c.Channel)), addr
		h.bearer = c.Token
	}
	h.resource = "https://" + namespace + "/" + url.PathEscape(hub)
	h.messages = h.resource + "/messages"
	return h, nil
}

// eventHubConnectionString is what weir reads of a connection string.
type eventHubConnectionString struct {
	namespace, entityPath string
	keyName, key          string
	signature             string
}

// parseEventHubConnectionString reads an Event Hubs connection string. Errors never quote it:
// it holds the key.
func parseEventHubConnectionString(s string) (eventHubConnectionString, error) {
	var cs eventHubConnectionString
	var endpoint string
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "endpoint":
			endpoint = v
		case "sharedaccesskeyname":
			cs.keyName = v
		case "sharedaccesskey":
			cs.key = v
		case "sharedaccesssignature":
			cs.signature = v
		case "entitypath":
			cs.entityPath = v
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return cs, Permanent(errors.New("invalid event hub connection string: no valid Endpoint"))
	}
	cs.namespace = u.Host
	switch {
	case cs.entityPath == "":
		return cs, Permanent(errors.New("invalid event hub connection string: no EntityPath"))
	case cs.signature == "" && (cs.keyName == "" || cs.key == ""):
		return cs, Permanent(errors.New("invalid event hub connection string: SharedAccessKeyName and SharedAccessKey are required"))
	}
	return cs, nil
}

// qualifiedEventHubNamespace appends the Service Bus domain of the Azure cloud that
// AZURE_AUTHORITY_HOST names to a bare namespace name, as Flux does.
func qualifiedEventHubNamespace(namespace string) string {
	if strings.Contains(namespace, ".servicebus.") {
		return namespace
	}
	authority := os.Getenv("AZURE_AUTHORITY_HOST")
	switch {
	case strings.Contains(authority, "chinacloudapi.cn"):
		return namespace + ".servicebus.chinacloudapi.cn"
	case strings.Contains(authority, "microsoftonline.us"):
		return namespace + ".servicebus.usgovcloudapi.net"
	default:
		return namespace + ".servicebus.windows.net"
	}
}

// sasToken signs a shared access signature for the hub, valid for an hour.
func (h *azureEventHub) sasToken() string {
	if h.sasSignature != "" {
		return h.sasSignature
	}
	sr := url.QueryEscape(strings.ToLower(h.resource))
	expiry := strconv.FormatInt(h.now().Add(h.sasTokenLifetime).Unix(), 10)
	mac := hmac.New(sha256.New, []byte(h.sasKey))
	mac.Write([]byte(sr + "\n" + expiry))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + expiry + "&skn=" + url.QueryEscape(h.sasKeyName)
}

func (h *azureEventHub) Post(ctx context.Context, e event.Event) error {
	payload, ok, err := forwardedEvent(e, "unable to marshall event")
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	auth := "Bearer " + h.bearer
	if h.bearer == "" {
		auth = h.sasToken()
	}
	u := h.messages + "?" + url.Values{"api-version": {"2014-01"}, "timeout": {"60"}}.Encode()
	err = callAPI(ctx, h.hc, apiCall{
		method: http.MethodPost, url: u, rawBody: payload, contentType: azureEventHubContentType,
		headers: map[string]string{"Authorization": auth},
	}, nil)
	if err != nil {
		return fmt.Errorf("failed to send msg: %w", err)
	}
	return nil
}
