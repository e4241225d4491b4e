package notify

import (
	"context"
	"fmt"
	"net/http"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("googlechat", newGoogleChat) }

// googleChatNotifier posts a card (v1 "cards" format) to a Google Chat incoming webhook.
type googleChatNotifier struct {
	c  Config
	hc *http.Client
}

func newGoogleChat(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &googleChatNotifier{c: c, hc: hc}, nil
}

// The fields Flux leaves unset are sent as null, as Flux sends them.

type gchatMessage struct {
	Cards []gchatCard `json:"cards"`
}

type gchatCard struct {
	Header   gchatHeader    `json:"header"`
	Sections []gchatSection `json:"sections"`
}

type gchatHeader struct {
	Title      string  `json:"title"`
	SubTitle   string  `json:"subtitle"`
	ImageURL   *string `json:"imageUrl"`
	ImageStyle *string `json:"imageStyle"`
}

type gchatSection struct {
	Header  string        `json:"header"`
	Widgets []gchatWidget `json:"widgets"`
}

type gchatWidget struct {
	TextParagraph *gchatText     `json:"textParagraph"`
	KeyValue      *gchatKeyValue `json:"keyValue"`
}

type gchatText struct {
	Text string `json:"text"`
}

type gchatKeyValue struct {
	TopLabel         string  `json:"topLabel"`
	Content          string  `json:"content"`
	ContentMultiline bool    `json:"contentMultiline"`
	BottomLabel      *string `json:"bottomLabel"`
	Icon             *string `json:"icon"`
}

func (g *googleChatNotifier) Post(ctx context.Context, e event.Event) error {
	text := e.Message
	if chatIsError(e) {
		text = fmt.Sprintf("<font color=\"#ff0000\">%s</font>", e.Message)
	}
	sections := []gchatSection{{Widgets: []gchatWidget{{TextParagraph: &gchatText{Text: text}}}}}
	if len(e.Metadata) > 0 {
		widgets := make([]gchatWidget, 0, len(e.Metadata))
		for _, k := range chatMetaKeys(e) {
			widgets = append(widgets, gchatWidget{KeyValue: &gchatKeyValue{TopLabel: k, Content: e.Metadata[k]}})
		}
		sections = append(sections, gchatSection{Widgets: widgets})
	}
	msg := gchatMessage{Cards: []gchatCard{{
		Header:   gchatHeader{Title: chatObjectName(e), SubTitle: e.ReportingController},
		Sections: sections,
	}}}
	if err := postJSON(ctx, g.hc, g.c.Address, msg, nil); err != nil {
		return chatRedact(fmt.Errorf("post googlechat message: %w", err), g.c)
	}
	return nil
}
