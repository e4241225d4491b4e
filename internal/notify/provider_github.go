package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v81/github"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("github", newGitHubCommitStatus) }

// githubCommitStatus sets a commit status on a GitHub repository for each event about a
// revision, as Flux's github provider: success for info events, failure for errors, the
// Alert's status key as the context, the event reason as the description; progressing events
// are skipped, and so is a status equal to the latest one of its context.
type githubCommitStatus struct {
	conn    *githubConn
	key     func(event.Event) string
	timeout time.Duration
}

// githubDescriptionLimit is the longest description GitHub accepts.
const githubDescriptionLimit = 140

func newGitHubCommitStatus(c Config) (Notifier, error) {
	key, err := commitStatusKeyer(c)
	if err != nil {
		return nil, err
	}
	conn, err := newGitHubConn(c)
	if err != nil {
		return nil, err
	}
	return &githubCommitStatus{conn: conn, key: key, timeout: c.Timeout}, nil
}

func (g *githubCommitStatus) Post(ctx context.Context, e event.Event) error {
	rev, ok, err := commitStatusFor(e, false)
	if err != nil || !ok {
		return err
	}
	state := "success"
	switch e.Severity {
	case event.SeverityInfo:
	case event.SeverityError:
		state = "failure"
	default:
		return Permanent(fmt.Errorf("can't convert severity %q to a github state", e.Severity))
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()

	desc := truncateRunes(commitStatusDescription(e), githubDescriptionLimit)
	id := g.key(e)
	gc, _, err := g.conn.client(ctx, false)
	if err != nil {
		return err
	}
	statuses, _, err := gc.Repositories.ListStatuses(ctx, g.conn.owner, g.conn.name, rev, &github.ListOptions{PerPage: 50})
	if err != nil {
		return fmt.Errorf("could not list commit statuses: %w", githubError(err))
	}
	if githubStatusIsLatest(statuses, id, state, desc) {
		return nil
	}
	status := github.RepoStatus{State: &state, Context: &id, Description: &desc}
	if _, _, err := gc.Repositories.CreateStatus(ctx, g.conn.owner, g.conn.name, rev, status); err != nil {
		return fmt.Errorf("could not create commit status: %w", githubError(err))
	}
	return nil
}

// githubStatusIsLatest reports whether the latest status of the context (GitHub lists the
// newest first) already has the state and description.
func githubStatusIsLatest(statuses []*github.RepoStatus, context, state, desc string) bool {
	for _, s := range statuses {
		if s.Context == nil || s.State == nil || s.Description == nil {
			continue
		}
		if *s.Context == context {
			return *s.State == state && *s.Description == desc
		}
	}
	return false
}

// truncateRunes shortens s to at most n characters.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
