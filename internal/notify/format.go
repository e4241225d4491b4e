package notify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/redact"
)

// This file holds the formatting that several chat and alerting providers share, as Flux's
// notifiers write it. Flux ranges over the metadata map, so its order is random; weir sorts
// the keys, which is one of the orders Flux may send.

// chatIsError reports whether e has the error severity.
func chatIsError(e event.Event) bool { return e.Severity == event.SeverityError }

// chatObjectName is the "kind/name.namespace" title most chat providers show, the kind in
// lower case.
func chatObjectName(e event.Event) string {
	o := e.InvolvedObject
	return fmt.Sprintf("%s/%s.%s", strings.ToLower(o.Kind), o.Name, o.Namespace)
}

// chatMetaKeys returns the metadata keys of e, sorted, without the excluded ones.
func chatMetaKeys(e event.Event, exclude ...string) []string {
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		if !slices.Contains(exclude, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// chatSeverityEmoji is the heading emoji of Matrix, Telegram and Lark messages.
func chatSeverityEmoji(e event.Event) string {
	if chatIsError(e) {
		return "🚨"
	}
	return "💫"
}

// chatBasic is the Secret's username and password, which Flux reads as basic credentials
// only when both are set.
func chatBasic(c Config) (user, password string, ok bool) {
	if c.BasicUsername == "" || c.BasicPassword == "" {
		return "", "", false
	}
	return c.BasicUsername, c.BasicPassword, true
}

// chatUsername is the user name Flux gives a provider: the Secret's username when the Secret
// has basic credentials, spec.username otherwise.
func chatUsername(c Config) string {
	if user, _, ok := chatBasic(c); ok {
		return user
	}
	return c.Username
}

// chatRedact keeps c's credentials out of err's message (a provider may echo them in its
// answer, which the error quotes).
func chatRedact(err error, c Config) error {
	return redact.Err(err, c.Token, c.BasicPassword)
}

// chatRedactValues keeps values out of err's message.
func chatRedactValues(err error, values ...string) error { return redact.Err(err, values...) }

// chatRedactHeaders keeps the values of configured headers (often credentials) out of err's
// message.
func chatRedactHeaders(err error, headers map[string]string) error {
	values := make([]string, 0, len(headers))
	for _, v := range headers {
		values = append(values, v)
	}
	return redact.Err(err, values...)
}

// chatRequireAddress parses c.Address, which the provider type needs.
func chatRequireAddress(c Config) error {
	if c.Address == "" {
		return Permanent(fmt.Errorf("%s provider: address is required", c.Type))
	}
	_, err := parseAddress(c.Address)
	return err
}

// chatJSON encodes a payload.
func chatJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, Permanent(fmt.Errorf("encode payload: %w", err))
	}
	return b, nil
}

// chatBasicAuth is the credentials part of a Basic Authorization header.
func chatBasicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// Slack-shaped payloads: Slack, Discord (its /slack endpoint) and Rocket.Chat read them.

type slackMessage struct {
	Channel     string            `json:"channel"`
	Username    string            `json:"username"`
	IconURL     string            `json:"icon_url"`
	IconEmoji   string            `json:"icon_emoji"`
	Text        string            `json:"text,omitempty"`
	Attachments []slackAttachment `json:"attachments,omitempty"`
}

type slackAttachment struct {
	Color      string       `json:"color"`
	AuthorName string       `json:"author_name"`
	Text       string       `json:"text"`
	MrkdwnIn   []string     `json:"mrkdwn_in"`
	Fields     []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// slackShaped is the message Flux's Slack, Discord and Rocket notifiers build: one attachment
// with the object as author, the message as text and the metadata as fields.
func slackShaped(e event.Event, channel, username, color string) slackMessage {
	fields := make([]slackField, 0, len(e.Metadata))
	for _, k := range chatMetaKeys(e) {
		fields = append(fields, slackField{Title: k, Value: e.Metadata[k]})
	}
	return slackMessage{
		Channel:  channel,
		Username: username,
		Attachments: []slackAttachment{{
			Color:      color,
			AuthorName: chatObjectName(e),
			Text:       e.Message,
			MrkdwnIn:   []string{"text"},
			Fields:     fields,
		}},
	}
}

// slackColor is the attachment colour of Slack and Discord messages.
func slackColor(e event.Event) string {
	if chatIsError(e) {
		return "danger"
	}
	return "good"
}

// chatMarkdownPost is the Markdown message of Zulip (and Flux's pull request comments): a
// "Flux Status" heading, the object as "Kind/namespace/name", the message and the sorted
// metadata, without the change request key.
func chatMarkdownPost(e event.Event) string {
	emoji := "ℹ️"
	if chatIsError(e) {
		emoji = "⚠️"
	}
	o := e.InvolvedObject
	var meta strings.Builder
	for _, k := range chatMetaKeys(e, metaChangeRequest) {
		fmt.Fprintf(&meta, "* `%s`: %s\n", k, e.Metadata[k])
	}
	return fmt.Sprintf("## Flux Status\n\n%s %s/%s/%s\n\n%s\n\nMetadata:\n%s",
		emoji, o.Kind, o.Namespace, o.Name, e.Message, meta.String())
}

// titleCase upper-cases the first letter of each word of s and lower-cases the rest, as
// golang.org/x/text/cases.Title does for Flux's Alertmanager alert names
// ("ReconciliationSucceeded" → "Reconciliationsucceeded"). A word is a run of letters,
// digits, marks and underscores, which one of . : ' ’ · between them does not break.
func titleCase(s string) string {
	var b strings.Builder
	inWord, lastMid := false, false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_':
			if inWord {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToTitle(r))
			}
			inWord, lastMid = true, false
		case inWord && !lastMid && strings.ContainsRune(".:'’·", r):
			b.WriteRune(r)
			lastMid = true
		default:
			b.WriteRune(r)
			inWord, lastMid = false, false
		}
	}
	return b.String()
}
