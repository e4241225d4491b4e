package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("giteapullrequestcomment", newGiteaPullRequestComment) }

// giteaPullRequestComment writes one comment per object on the pull request named by the
// event's change_request metadata, as Flux's giteapullrequestcomment provider: the comment of
// the token's user carrying this Provider's marker is edited, else a new one is created.
// Events without a change request are skipped.
type giteaPullRequestComment struct {
	repo    *giteaRepo
	comment changeRequestComment
	timeout time.Duration
}

func newGiteaPullRequestComment(c Config) (Notifier, error) {
	comment, err := newChangeRequestComment(c, pullRequestCommentKeyPrefix)
	if err != nil {
		return nil, err
	}
	repo, err := newGiteaRepo(c)
	if err != nil {
		return nil, err
	}
	return &giteaPullRequestComment{repo: repo, comment: comment, timeout: c.Timeout}, nil
}

// giteaComment is an issue comment as Gitea lists it.
type giteaComment struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	Poster *struct {
		Login string `json:"login"`
	} `json:"user"`
}

func (g *giteaPullRequestComment) Post(ctx context.Context, e event.Event) error {
	if isCommitStatusUpdate(e) {
		return nil
	}
	n, ok, err := changeRequestNumber(e)
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()

	var me struct {
		Login string `json:"login"`
	}
	if err := g.repo.call(ctx, http.MethodGet, g.repo.api+"/user", nil, &me); err != nil {
		return fmt.Errorf("failed to get authenticated user info: %w", err)
	}
	issueURL := g.repo.repo + "/issues/" + strconv.FormatInt(n, 10) + "/comments"
	// Flux reads the first 100 comments only: its comment is written when the pull request
	// opens.
	var comments []giteaComment
	if err := g.repo.call(ctx, http.MethodGet, issueURL+"?"+url.Values{"limit": {"100"}, "page": {"1"}}.Encode(), nil, &comments); err != nil {
		return fmt.Errorf("failed to list pull request comments: %w", err)
	}
	body := map[string]string{"body": g.comment.body(e)}
	marker := g.comment.marker(e)
	for _, c := range comments {
		if c.Poster != nil && c.Poster.Login == me.Login && strings.Contains(c.Body, marker) {
			if err := g.repo.call(ctx, http.MethodPatch, g.repo.repo+"/issues/comments/"+strconv.FormatInt(c.ID, 10), body, nil); err != nil {
				return fmt.Errorf("failed to update pull request comment: %w", err)
			}
			return nil
		}
	}
	if err := g.repo.call(ctx, http.MethodPost, issueURL, body, nil); err != nil {
		return fmt.Errorf("failed to create pull request comment: %w", err)
	}
	return nil
}
