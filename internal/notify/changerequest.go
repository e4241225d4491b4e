package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

// This file holds what the change-request comment providers (githubpullrequestcomment,
// gitlabmergerequestcomment, giteapullrequestcomment) share: one comment per object and
// Provider on the pull or merge request named by the event's change_request metadata, found
// again by a hidden marker and edited in place, as Flux's notification-controller does; each
// service's API is a changeRequestAPI.

// Marker prefixes of Flux's comments, which let weir find and update the comments Flux wrote.
const (
	pullRequestCommentKeyPrefix  = "flux-pr-comment-key"
	mergeRequestCommentKeyPrefix = "flux-mr-comment-key"
)

// changeRequestComment formats and posts the comments of one Provider.
type changeRequestComment struct {
	providerUID string
	keyPrefix   string
	// noun is what the service calls a comment in errors ("pull request comment").
	noun string
}

func newChangeRequestComment(c Config, keyPrefix, noun string) (changeRequestComment, error) {
	if c.ProviderUID == "" {
		return changeRequestComment{}, Permanent(errors.New("provider UID cannot be empty"))
	}
	return changeRequestComment{providerUID: c.ProviderUID, keyPrefix: keyPrefix, noun: noun}, nil
}

// marker is the HTML comment, invisible once rendered, that identifies the comment of this
// Provider about e's object: "<!-- <prefix>:<provider UID>/<kind>/<namespace>/<name> -->".
func (c changeRequestComment) marker(e event.Event) string {
	o := e.InvolvedObject
	return fmt.Sprintf("<!-- %s:%s/%s/%s/%s -->", c.keyPrefix, c.providerUID, o.Kind, o.Namespace, o.Name)
}

// body is the comment for e: the marker, then the Markdown status of the object with the
// event's message and its metadata, sorted, without the change request number.
func (c changeRequestComment) body(e event.Event) string {
	return c.marker(e) + "\n\n" + chatMarkdownPost(e)
}

// changeRequestNote is a comment of a pull or merge request, as the providers read it.
type changeRequestNote struct {
	id           int64
	author, body string
}

// changeRequestAPI is what differs between the services the comment providers write to.
type changeRequestAPI interface {
	// login is the name of the user the comments are written as.
	login(ctx context.Context) (string, error)
	// notes lists the first 100 comments of change request n, the oldest first, as Flux
	// reads them: its comment is written when the request opens, so it is among them.
	notes(ctx context.Context, n int64) ([]changeRequestNote, error)
	// edit replaces the body of the comment id of change request n.
	edit(ctx context.Context, n, id int64, body string) error
	// create adds a comment to change request n.
	create(ctx context.Context, n int64, body string) error
}

// post is the Post of every comment provider: the comment about e's object, found by its
// author and marker, is edited, else one is created, all within timeout. Events without a
// change request, and those only meant for commit statuses, are skipped. connect gives the
// service's API once e is known to need a comment (GitHub makes an App's installation token
// there); its error is returned as is.
func (c changeRequestComment) post(ctx context.Context, e event.Event, timeout time.Duration,
	connect func(context.Context) (changeRequestAPI, error),
) error {
	if isCommitStatusUpdate(e) {
		return nil
	}
	n, ok, err := changeRequestNumber(e)
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	api, err := connect(ctx)
	if err != nil {
		return err
	}
	login, err := api.login(ctx)
	if err != nil {
		return fmt.Errorf("failed to get authenticated user info: %w", err)
	}
	notes, err := api.notes(ctx, n)
	if err != nil {
		return fmt.Errorf("failed to list %ss: %w", c.noun, err)
	}
	body, marker := c.body(e), c.marker(e)
	for _, note := range notes {
		if note.author == login && strings.Contains(note.body, marker) {
			if err := api.edit(ctx, n, note.id, body); err != nil {
				return fmt.Errorf("failed to update %s: %w", c.noun, err)
			}
			return nil
		}
	}
	if err := api.create(ctx, n, body); err != nil {
		return fmt.Errorf("failed to create %s: %w", c.noun, err)
	}
	return nil
}

// changeRequestNumber is the pull or merge request number of e, and false when e names none
// (such events are not for comment providers).
func changeRequestNumber(e event.Event) (int64, bool, error) {
	s, ok := e.Metadata[metaChangeRequest]
	if !ok || s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false, Permanent(fmt.Errorf("invalid %q metadata value %q", metaChangeRequest, s))
	}
	return n, true, nil
}
