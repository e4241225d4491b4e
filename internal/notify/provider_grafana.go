package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("grafana", newGrafana) }

// grafanaNotifier adds a Graphite-format annotation through the Grafana annotations API at
// the address (…/api/annotations/graphite), with a service account token as bearer or the
// Secret's username and password.
type grafanaNotifier struct {
	c  Config
	hc *http.Client
}

func newGrafana(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &grafanaNotifier{c: c, hc: hc}, nil
}

type grafanaAnnotation struct {
	// When is the event time in Unix seconds, as Flux sends it.
	When int64    `json:"when"`
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

func (g *grafanaNotifier) Post(ctx context.Context, e event.Event) error {
	// Grafana splits Graphite tags on ':', so Flux writes ':' in metadata as '|'.
	tags := []string{"flux", e.ReportingController}
	for _, k := range chatMetaKeys(e) {
		tags = append(tags, fmt.Sprintf("%s: %s", strings.ReplaceAll(k, ":", "|"), strings.ReplaceAll(e.Metadata[k], ":", "|")))
	}
	o := e.InvolvedObject
	tags = append(tags, "kind: "+o.Kind, "name: "+o.Name, "namespace: "+o.Namespace)
	ann := grafanaAnnotation{When: e.Timestamp.Unix(), Text: chatObjectName(e), Tags: tags}

	headers := map[string]string{}
	user, password, basic := chatBasic(g.c)
	switch {
	case g.c.Token != "":
		headers["Authorization"] = "Bearer " + g.c.Token
	case basic:
		headers["Authorization"] = "Basic " + chatBasicAuth(user, password)
	}
	if err := postJSON(ctx, g.hc, g.c.Address, ann, headers); err != nil {
		return chatRedact(fmt.Errorf("post grafana annotation: %w", err), g.c)
	}
	return nil
}
