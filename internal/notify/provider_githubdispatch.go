package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("githubdispatch", newGitHubDispatch) }

// githubDispatch triggers a repository_dispatch event on a GitHub repository for each event,
// as Flux's githubdispatch provider: the event type is "<kind>/<name>.<namespace>" and the
// client payload the event itself, so that GitHub Actions workflows can react to it. Events
// only meant for commit statuses are skipped.
type githubDispatch struct {
	conn    *githubConn
	timeout time.Duration
}

func newGitHubDispatch(c Config) (Notifier, error) {
	conn, err := newGitHubConn(c)
	if err != nil {
		return nil, err
	}
	return &githubDispatch{conn: conn, timeout: c.Timeout}, nil
}

func (g *githubDispatch) Post(ctx context.Context, e event.Event) error {
	payload, ok, err := forwardedEvent(e, "failed to marshal object into json")
	if err != nil || !ok {
		return err
	}
	o := e.InvolvedObject
	raw := json.RawMessage(payload)
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	gc, _, err := g.conn.client(ctx, false)
	if err != nil {
		return err
	}
	opts := github.DispatchRequestOptions{
		EventType:     fmt.Sprintf("%s/%s.%s", o.Kind, o.Name, o.Namespace),
		ClientPayload: &raw,
	}
	if _, _, err := gc.Repositories.Dispatch(ctx, g.conn.owner, g.conn.name, opts); err != nil {
		return fmt.Errorf("could not send github repository dispatch webhook: %w", githubError(err))
	}
	return nil
}
