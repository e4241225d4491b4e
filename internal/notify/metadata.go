package notify

import (
	"encoding/json"
	"fmt"

	"github.com/weirgitops/weir/internal/event"
)

// This file holds what every provider reads of an event's metadata, as Flux's event server
// passes it (the keys already stripped of their API group prefix).

// Metadata keys the providers read or leave out of their messages.
const (
	metaRevision       = "revision"
	metaOriginRevision = "originRevision"
	metaCommit         = "commit"
	metaCommitStatus   = "commit_status"
	metaChangeRequest  = "change_request"
	metaSummary        = "summary"

	// commitStatusUpdate is the commit_status value of events meant for commit-status
	// providers only.
	commitStatusUpdate = "update"
	// reasonProgressing is the event reason commit-status providers ignore (Gitea shows it as
	// pending), and PagerDuty does not send.
	reasonProgressing = "Progressing"
)

// eventRevision is the revision an event is about: the origin revision when the source has
// one, else the revision (Flux's Event.GetRevision).
func eventRevision(e event.Event) (string, bool) {
	if r, ok := e.Metadata[metaOriginRevision]; ok {
		return r, true
	}
	r, ok := e.Metadata[metaRevision]
	return r, ok
}

// chatRevision is the revision Flux's event API reads from metadata: the commit, else the
// origin revision, else the revision.
func chatRevision(e event.Event) (string, bool) {
	if v, ok := e.Metadata[metaCommit]; ok {
		return v, true
	}
	return eventRevision(e)
}

// isCommitStatusUpdate reports whether e is only meant for commit-status providers, which the
// other providers skip.
func isCommitStatusUpdate(e event.Event) bool {
	return e.Metadata[metaCommitStatus] == commitStatusUpdate
}

// forwardedEvent is e as JSON, as the providers that forward whole events (azureeventhub,
// googlepubsub, nats, githubdispatch) send it, and false for an event only meant for commit
// statuses, which they skip. encodeFailed begins the permanent error of an event that does
// not encode, in the words of the provider's Flux notifier.
func forwardedEvent(e event.Event, encodeFailed string) ([]byte, bool, error) {
	if isCommitStatusUpdate(e) {
		return nil, false, nil
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, false, Permanent(fmt.Errorf("%s: %w", encodeFailed, err))
	}
	return payload, true, nil
}
