package notify

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/weirgitops/weir/internal/event"
)

// This file holds what the change-request comment providers (githubpullrequestcomment,
// gitlabmergerequestcomment, giteapullrequestcomment) share: one comment per object and
// Provider on the pull or merge request named by the event's change_request metadata, found
// again by a hidden marker and edited in place, as Flux's notification-controller does.

// Marker prefixes of Flux's comments, which let weir find and update the comments Flux wrote.
const (
	pullRequestCommentKeyPrefix  = "flux-pr-comment-key"
	mergeRequestCommentKeyPrefix = "flux-mr-comment-key"
)

// changeRequestComment formats the comments of one Provider.
type changeRequestComment struct {
	providerUID string
	keyPrefix   string
}

func newChangeRequestComment(c Config, keyPrefix string) (changeRequestComment, error) {
	if c.ProviderUID == "" {
		return changeRequestComment{}, Permanent(errors.New("provider UID cannot be empty"))
	}
	return changeRequestComment{providerUID: c.ProviderUID, keyPrefix: keyPrefix}, nil
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
	emoji := "ℹ️"
	if e.Severity == event.SeverityError {
		emoji = "⚠️"
	}
	o := e.InvolvedObject
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		if k != metaChangeRequest {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n## Flux Status\n\n%s %s/%s/%s\n\n%s\n\nMetadata:\n", c.marker(e), emoji, o.Kind, o.Namespace, o.Name, e.Message)
	for _, k := range keys {
		fmt.Fprintf(&b, "* `%s`: %s\n", k, e.Metadata[k])
	}
	return b.String()
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
