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
	comment, err := newChangeRequestComment(c, mergeRequestCommentKeyPrefix)
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
	if isCommitStatusUpdate(e) {
		return nil
	}
	iid, ok, err := changeRequestNumber(e)
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()

	var me struct {
		Username string `json:"username"`
	}
	if err := g.project.call(ctx, http.MethodGet, g.project.api+"/user", nil, &me); err != nil {
		return fmt.Errorf("failed to get authenticated user info: %w", err)
	}
	notesURL := g.project.project + "/merge_requests/" + strconv.FormatInt(iid, 10) + "/notes"
	// Flux reads the first 100 notes only: its note is written when the merge request opens.
	query := url.Values{"order_by": {"created_at"}, "per_page": {"100"}, "sort": {"asc"}}
	var notes []gitlabNote
	if err := g.project.call(ctx, http.MethodGet, notesURL+"?"+query.Encode(), nil, &notes); err != nil {
		return fmt.Errorf("failed to list merge request notes: %w", err)
	}
	body := map[string]string{"body": g.comment.body(e)}
	marker := g.comment.marker(e)
	for _, n := range notes {
		if n.Author.Username == me.Username && strings.Contains(n.Body, marker) {
			if err := g.project.call(ctx, http.MethodPut, notesURL+"/"+strconv.FormatInt(n.ID, 10), body, nil); err != nil {
				return fmt.Errorf("failed to update merge request note: %w", err)
			}
			return nil
		}
	}
	if err := g.project.call(ctx, http.MethodPost, notesURL, body, nil); err != nil {
		return fmt.Errorf("failed to create merge request note: %w", err)
	}
	return nil
}
