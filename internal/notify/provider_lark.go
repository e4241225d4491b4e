package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("lark", newLark) }

// larkNotifier posts an interactive card to a Lark (Feishu) custom bot webhook.
type larkNotifier struct {
	c  Config
	hc *http.Client
}

func newLark(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &larkNotifier{c: c, hc: hc}, nil
}

type larkMessage struct {
	MsgType string   `json:"msg_type"`
	Card    larkCard `json:"card"`
}

type larkCard struct {
	Config   larkConfig    `json:"config"`
	Header   larkHeader    `json:"header"`
	Elements []larkElement `json:"elements"`
}

type larkConfig struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

type larkHeader struct {
	Title    larkText `json:"title"`
	Template string   `json:"template"`
}

type larkElement struct {
	Tag  string   `json:"tag"`
	Text larkText `json:"text"`
}

type larkText struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

func (l *larkNotifier) Post(ctx context.Context, e event.Event) error {
	template := "turquoise"
	if chatIsError(e) {
		template = "red"
	}
	var content strings.Builder
	fmt.Fprintf(&content, "**%s**\n\n", e.Message)
	for _, k := range chatMetaKeys(e) {
		fmt.Fprintf(&content, "%s: %s\n", k, e.Metadata[k])
	}
	msg := larkMessage{
		MsgType: "interactive",
		Card: larkCard{
			Config: larkConfig{WideScreenMode: true},
			Header: larkHeader{
				Title:    larkText{Tag: "plain_text", Content: chatSeverityEmoji(e) + " " + chatObjectName(e)},
				Template: template,
			},
			Elements: []larkElement{{Tag: "div", Text: larkText{Tag: "lark_md", Content: content.String()}}},
		},
	}
	if err := postJSON(ctx, l.hc, l.c.Address, msg, nil); err != nil {
		return chatRedact(fmt.Errorf("post lark message: %w", err), l.c)
	}
	return nil
}
