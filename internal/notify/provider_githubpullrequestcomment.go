package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v81/github"

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
	comment, err := newChangeRequestComment(c, pullRequestCommentKeyPrefix)
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
	if isCommitStatusUpdate(e) {
		return nil
	}
	n, ok, err := changeRequestNumber(e)
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	gc, slug, err := g.conn.client(ctx, true)
	if err != nil {
		return err
	}
	login := slug + "[bot]"
	if slug == "" {
		me, _, err := gc.Users.Get(ctx, "")
		if err != nil {
			return fmt.Errorf("failed to get authenticated user info: %w", githubError(err))
		}
		login = me.GetLogin()
	}

	// Flux reads the first 100 comments only: its comment is written when the pull request
	// opens, so it is among the oldest.
	comments, _, err := gc.Issues.ListComments(ctx, g.conn.owner, g.conn.name, int(n), &github.IssueListCommentsOptions{
		Sort:        github.Ptr("created"),
		Direction:   github.Ptr("asc"),
		ListOptions: github.ListOptions{PerPage: 100},
	})
	if err != nil {
		return fmt.Errorf("failed to list pull request comments: %w", githubError(err))
	}
	body := g.comment.body(e)
	marker := g.comment.marker(e)
	for _, c := range comments {
		if c.GetUser().GetLogin() == login && strings.Contains(c.GetBody(), marker) {
			if _, _, err := gc.Issues.EditComment(ctx, g.conn.owner, g.conn.name, c.GetID(), &github.IssueComment{Body: &body}); err != nil {
				return fmt.Errorf("failed to update pull request comment: %w", githubError(err))
			}
			return nil
		}
	}
	if _, _, err := gc.Issues.CreateComment(ctx, g.conn.owner, g.conn.name, int(n), &github.IssueComment{Body: &body}); err != nil {
		return fmt.Errorf("failed to create pull request comment: %w", githubError(err))
	}
	return nil
}
