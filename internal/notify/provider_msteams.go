package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("msteams", newMSTeams) }

// teamsNotifier posts to a Microsoft Teams webhook: an Adaptive Card (Power Automate
// workflows), or a MessageCard for the deprecated Office 365 connectors, whose addresses are
// on *.webhook.office.com.
type teamsNotifier struct {
	c         Config
	connector bool
	hc        *http.Client
}

func newMSTeams(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	u, _ := parseAddress(c.Address)
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &teamsNotifier{c: c, connector: strings.HasSuffix(u.Hostname(), ".webhook.office.com"), hc: hc}, nil
}

func (t *teamsNotifier) Post(ctx context.Context, e event.Event) error {
	var payload any
	if t.connector {
		payload = teamsConnectorCard(e)
	} else {
		payload = teamsAdaptiveCard(e)
	}
	if err := postJSON(ctx, t.hc, t.c.Address, payload, nil); err != nil {
		return chatRedact(fmt.Errorf("post msteams message: %w", err), t.c)
	}
	return nil
}

// The MessageCard of the Office 365 connectors.

type teamsMessageCard struct {
	Type       string         `json:"@type"`
	Context    string         `json:"@context"`
	ThemeColor string         `json:"themeColor"`
	Summary    string         `json:"summary"`
	Sections   []teamsSection `json:"sections"`
}

type teamsSection struct {
	ActivityTitle    string      `json:"activityTitle"`
	ActivitySubtitle string      `json:"activitySubtitle"`
	Facts            []teamsFact `json:"facts"`
}

type teamsFact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func teamsConnectorCard(e event.Event) teamsMessageCard {
	name := chatObjectName(e)
	facts := make([]teamsFact, 0, len(e.Metadata))
	for _, k := range chatMetaKeys(e) {
		facts = append(facts, teamsFact{Name: k, Value: e.Metadata[k]})
	}
	color := "0076D7"
	if chatIsError(e) {
		color = "FF0000"
	}
	return teamsMessageCard{
		Type: "MessageCard", Context: "http://schema.org/extensions", ThemeColor: color, Summary: name,
		Sections: []teamsSection{{ActivityTitle: e.Message, ActivitySubtitle: name, Facts: facts}},
	}
}

// The Adaptive Card (schema 1.4, the newest Teams renders).

type teamsCardMessage struct {
	Type        string                `json:"type"`
	Attachments []teamsCardAttachment `json:"attachments"`
}

type teamsCardAttachment struct {
	ContentType string           `json:"contentType"`
	Content     teamsCardContent `json:"content"`
}

type teamsCardContent struct {
	Schema  string             `json:"$schema"`
	Type    string             `json:"type"`
	Version string             `json:"version"`
	Body    []teamsCardElement `json:"body"`
	MSTeams teamsCardWidth     `json:"msteams"`
}

type teamsCardWidth struct {
	Width string `json:"width,omitempty"`
}

// teamsCardElement is a Container, TextBlock or FactSet: only the fields of its type are set.
type teamsCardElement struct {
	Type   string             `json:"type"`
	Items  []teamsCardElement `json:"items,omitempty"`
	Text   string             `json:"text,omitempty"`
	Size   string             `json:"size,omitempty"`
	Weight string             `json:"weight,omitempty"`
	Color  string             `json:"color,omitempty"`
	Wrap   bool               `json:"wrap,omitempty"`
	Facts  []teamsCardFact    `json:"facts,omitempty"`
}

type teamsCardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func teamsAdaptiveCard(e event.Event) teamsCardMessage {
	message := teamsCardElement{Type: "TextBlock", Text: e.Message, Wrap: true}
	if chatIsError(e) {
		message.Color = "attention"
	}
	// The summary first, then the rest of the metadata sorted by key.
	facts := make([]teamsCardFact, 0, len(e.Metadata))
	if v, ok := e.Metadata[metaSummary]; ok {
		facts = append(facts, teamsCardFact{Title: metaSummary, Value: v})
	}
	for _, k := range chatMetaKeys(e, metaSummary) {
		facts = append(facts, teamsCardFact{Title: k, Value: e.Metadata[k]})
	}
	return teamsCardMessage{
		Type: "message",
		Attachments: []teamsCardAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: teamsCardContent{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				MSTeams: teamsCardWidth{Width: "Full"},
				Body: []teamsCardElement{{
					Type: "Container",
					Items: []teamsCardElement{
						{Type: "TextBlock", Text: chatObjectName(e), Size: "large", Weight: "bolder", Wrap: true},
						message,
						{Type: "FactSet", Facts: facts},
					},
				}},
			},
		}},
	}
}
