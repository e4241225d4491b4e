package notify

import (
	"context"
	"time"

	"github.com/google/go-github/v88/github"

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
	return githubStatuses.post(ctx, e, g.key, g.timeout, g.connect)
}

// connect makes the client of one event (an App's installation token is made per event).
func (g *githubCommitStatus) connect(ctx context.Context) (commitStatusAPI, error) {
	gc, _, err := g.conn.client(ctx, false)
	if err != nil {
		return nil, err
	}
	return githubStatusAPI{conn: g.conn, gc: gc}, nil
}

// githubStatusAPI is the statuses API of the repository with one event's client.
type githubStatusAPI struct {
	conn *githubConn
	gc   *github.Client
}

// has reports whether the latest status of the key (GitHub lists the newest first) already
// has the state and description.
func (a githubStatusAPI) has(ctx context.Context, s commitStatus) (bool, error) {
	statuses, _, err := a.gc.Repositories.ListStatuses(ctx, a.conn.owner, a.conn.name, s.sha, &github.ListOptions{PerPage: 50})
	if err != nil {
		return false, githubError(err)
	}
	for _, st := range statuses {
		if st.Context == nil || st.State == nil || st.Description == nil {
			continue
		}
		if *st.Context == s.key {
			return *st.State == s.state && *st.Description == s.description, nil
		}
	}
	return false, nil
}

func (a githubStatusAPI) set(ctx context.Context, s commitStatus) error {
	status := github.RepoStatus{State: &s.state, Context: &s.key, Description: &s.description}
	if _, _, err := a.gc.Repositories.CreateStatus(ctx, a.conn.owner, a.conn.name, s.sha, status); err != nil {
		return githubError(err)
	}
	return nil
}
