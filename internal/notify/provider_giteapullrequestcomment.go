package notify

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
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
	comment, err := newChangeRequestComment(c, pullRequestCommentKeyPrefix, "pull request comment")
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
	return g.comment.post(ctx, e, g.timeout, fixed[changeRequestAPI](g))
}

func (g *giteaPullRequestComment) login(ctx context.Context) (string, error) {
	var me struct {
		Login string `json:"login"`
	}
	err := g.repo.call(ctx, http.MethodGet, g.repo.api+"/user", nil, &me)
	return me.Login, err
}

// commentsURL is the URL of the comments of pull request n.
func (g *giteaPullRequestComment) commentsURL(n int64) string {
	return g.repo.repo + "/issues/" + strconv.FormatInt(n, 10) + "/comments"
}

// notes lists the comments that have an author (only those can be this Provider's).
func (g *giteaPullRequestComment) notes(ctx context.Context, n int64) ([]changeRequestNote, error) {
	var comments []giteaComment
	if err := g.repo.call(ctx, http.MethodGet, g.commentsURL(n)+"?"+url.Values{"limit": {"100"}, "page": {"1"}}.Encode(), nil, &comments); err != nil {
		return nil, err
	}
	notes := make([]changeRequestNote, 0, len(comments))
	for _, c := range comments {
		if c.Poster != nil {
			notes = append(notes, changeRequestNote{id: c.ID, author: c.Poster.Login, body: c.Body})
		}
	}
	return notes, nil
}

func (g *giteaPullRequestComment) edit(ctx context.Context, _, id int64, body string) error {
	return g.repo.call(ctx, http.MethodPatch, g.repo.repo+"/issues/comments/"+strconv.FormatInt(id, 10), map[string]string{"body": body}, nil)
}

func (g *giteaPullRequestComment) create(ctx context.Context, n int64, body string) error {
	return g.repo.call(ctx, http.MethodPost, g.commentsURL(n), map[string]string{"body": body}, nil)
}
