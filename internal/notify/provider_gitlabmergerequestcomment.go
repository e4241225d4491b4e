package notify

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("gitlabmergerequestcomment", newGitLabMergeRequestComment) }

// gitlabMergeRequestComment writes one note per object on the merge request named by the
// event's change_request metadata (its IID), as Flux's gitlabmergerequestcomment provider: the
// note of the token's user carrying this Provider's marker is edited, else a new one is
// created. Events without a change request are skipped.
type gitlabMergeRequestComment struct {
	project *gitlabProject
	comment changeRequestComment
	timeout time.Duration
}

func newGitLabMergeRequestComment(c Config) (Notifier, error) {
	comment, err := newChangeRequestComment(c, mergeRequestCommentKeyPrefix, "merge request note")
	if err != nil {
		return nil, err
	}
	project, err := newGitLabProject(c)
	if err != nil {
		return nil, err
	}
	return &gitlabMergeRequestComment{project: project, comment: comment, timeout: c.Timeout}, nil
}

// gitlabNote is a merge request note as GitLab lists it.
type gitlabNote struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	Author struct {
		Username string `json:"username"`
	} `json:"author"`
}

func (g *gitlabMergeRequestComment) Post(ctx context.Context, e event.Event) error {
	return g.comment.post(ctx, e, g.timeout, fixed[changeRequestAPI](g))
}

func (g *gitlabMergeRequestComment) login(ctx context.Context) (string, error) {
	var me struct {
		Username string `json:"username"`
	}
	err := g.project.call(ctx, http.MethodGet, g.project.api+"/user", nil, &me)
	return me.Username, err
}

// notesURL is the URL of the notes of the merge request whose IID is iid.
func (g *gitlabMergeRequestComment) notesURL(iid int64) string {
	return g.project.project + "/merge_requests/" + strconv.FormatInt(iid, 10) + "/notes"
}

func (g *gitlabMergeRequestComment) notes(ctx context.Context, iid int64) ([]changeRequestNote, error) {
	query := url.Values{"order_by": {"created_at"}, "per_page": {"100"}, "sort": {"asc"}}
	var notes []gitlabNote
	if err := g.project.call(ctx, http.MethodGet, g.notesURL(iid)+"?"+query.Encode(), nil, &notes); err != nil {
		return nil, err
	}
	out := make([]changeRequestNote, 0, len(notes))
	for _, n := range notes {
		out = append(out, changeRequestNote{id: n.ID, author: n.Author.Username, body: n.Body})
	}
	return out, nil
}

func (g *gitlabMergeRequestComment) edit(ctx context.Context, iid, id int64, body string) error {
	return g.project.call(ctx, http.MethodPut, g.notesURL(iid)+"/"+strconv.FormatInt(id, 10), map[string]string{"body": body}, nil)
}

func (g *gitlabMergeRequestComment) create(ctx context.Context, iid int64, body string) error {
	return g.project.call(ctx, http.MethodPost, g.notesURL(iid), map[string]string{"body": body}, nil)
}
