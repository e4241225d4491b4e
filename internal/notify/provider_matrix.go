package notify

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("matrix", newMatrix) }

// matrixNotifier sends an m.text message to a Matrix room (spec.channel, the room ID) through
// the client-server API of the homeserver at the address, with the access token as bearer.
type matrixNotifier struct {
	c  Config
	hc *http.Client
}

func newMatrix(c Config) (Notifier, error) {
	if err := chatRequireAddress(c); err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &matrixNotifier{c: c, hc: hc}, nil
}

// matrixRoomEscaper escapes what would end the room's path segment. Flux puts the room ID in
// the path as it is, which room IDs ("!id:server") survive and room aliases ("#alias:server")
// do not.
var matrixRoomEscaper = strings.NewReplacer("%", "%25", "/", "%2F", "?", "%3F", "#", "%23", " ", "%20")

func (m *matrixNotifier) Post(ctx context.Context, e event.Event) error {
	// The transaction ID is the SHA-1 of the event: the homeserver ignores a resent event.
	raw, err := json.Marshal(e)
	if err != nil {
		return Permanent(fmt.Errorf("encode event: %w", err))
	}
	sum := sha1.Sum(raw)
	addr := fmt.Sprintf("%s/_matrix/client/r0/rooms/%s/send/m.room.message/%s",
		m.c.Address, matrixRoomEscaper.Replace(m.c.Channel), hex.EncodeToString(sum[:]))

	var meta strings.Builder
	for _, k := range chatMetaKeys(e) {
		fmt.Fprintf(&meta, "- %s: %s\n", k, e.Metadata[k])
	}
	text := fmt.Sprintf("%s %s\n%s\n%s", chatSeverityEmoji(e), chatObjectName(e), e.Message, meta.String())
	body, err := json.Marshal(struct {
		Body    string `json:"body"`
		MsgType string `json:"msgtype"`
	}{Body: text, MsgType: "m.text"})
	if err != nil {
		return Permanent(fmt.Errorf("encode matrix message: %w", err))
	}
	_, err = do(ctx, m.hc, request{
		method: http.MethodPut, url: addr, body: body, contentType: "application/json",
		headers: map[string]string{"Authorization": "Bearer " + m.c.Token},
	})
	if err != nil {
		return chatRedact(fmt.Errorf("send matrix message: %w", err), m.c)
	}
	return nil
}
