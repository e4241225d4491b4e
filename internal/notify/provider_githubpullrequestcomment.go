package notify

import (
	"context"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("githubpullrequestcomment", newGitHubPullRequestComment) }

// githubPullRequestComment writes one comment per object on the pull request named by the
// event's change_request metadata, as Flux's githubpullrequestcomment provider: the comment of
// the authenticated user (or "<app-slug>[bot]") carrying this Provider's marker is edited, else
// a new one is created. Events without a change request are skipped.
type githubPullRequestComment struct {
	conn    *githubConn
	comment changeRequestComment
	timeout time.Duration
}

func newGitHubPullRequestComment(c Config) (Notifier, error) {
	comment, err := newChangeRequestComment(c, pullRequestCommentKeyPrefix, "pull request comment")
	if err != nil {
		return nil, err
	}
	conn, err := newGitHubConn(c)
	if err != nil {
		return nil, err
	}
	return &githubPullRequestComment{conn: conn, comment: comment, timeout: c.Timeout}, nil
}

func (g *githubPullRequestComment) Post(ctx context.Context, e event.Event) error {
	return g.comment.post(ctx, e, g.timeout, g.connect)
}

// connect makes the client of one event (an App's installation token is made per event).
func (g *githubPullRequestComment) connect(ctx context.Context) (changeRequestAPI, error) {
	gc, slug, err := g.conn.client(ctx, true)
	if err != nil {
		return nil, err
	}
	return githubCommentAPI{conn: g.conn, gc: gc, slug: slug}, nil
}

// githubCommentAPI is the issue comments API of the repository with one event's client.
type githubCommentAPI struct {
	conn *githubConn
	gc   *github.Client
	// slug is the App's, when authenticated as an App.
	slug string
}

// login is "<app-slug>[bot]" for an App, else the token's user.
func (a githubCommentAPI) login(ctx context.Context) (string, error) {
	if a.slug != "" {
		return a.slug + "[bot]", nil
	}
	me, _, err := a.gc.Users.Get(ctx, "")
	if err != nil {
		return "", githubError(err)
	}
	return me.GetLogin(), nil
}

func (a githubCommentAPI) notes(ctx context.Context, n int64) ([]changeRequestNote, error) {
	comments, _, err := a.gc.Issues.ListComments(ctx, a.conn.owner, a.conn.name, int(n), &github.IssueListCommentsOptions{
		Sort:        github.Ptr("created"),
		Direction:   github.Ptr("asc"),
		ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return nil, githubError(err)
	}
	notes := make([]changeRequestNote, 0, len(comments))
	for _, c := range comments {
		notes = append(notes, changeRequestNote{id: c.GetID(), author: c.GetUser().GetLogin(), body: c.GetBody()})
	}
	return notes, nil
}

func (a githubCommentAPI) edit(ctx context.Context, _, id int64, body string) error {
	if _, _, err := a.gc.Issues.EditComment(ctx, a.conn.owner, a.conn.name, id, &github.IssueComment{Body: &body}); err != nil {
		return githubError(err)
	}
	return nil
}

func (a githubCommentAPI) create(ctx context.Context, n int64, body string) error {
	if _, _, err := a.gc.Issues.CreateComment(ctx, a.conn.owner, a.conn.name, int(n), &github.IssueComment{Body: &body}); err != nil {
		return githubError(err)
	}
	return nil
}
