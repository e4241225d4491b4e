package notification

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/weirgitops/weir/internal/event"
)

// eventGroup is the API group of metadata keys that objects' annotations contribute
// ("event.toolkit.fluxcd.io/<key>").
const eventGroup = event.EventGroup

// Metadata keys Flux gives a meaning to.
const (
	metaToken        = "token"
	metaChecksum     = "checksum"
	metaDigest       = "digest"
	metaRevision     = "revision"
	metaCommitStatus = "commit_status"
	metaCommit       = "commit"
	metaChangeReq    = "change_request"
	metaSummary      = "summary"
	commitStatusUpd  = "update"
)

// objectGroup is the API group of the event's involved object.
func objectGroup(e *event.Event) string {
	gv, _ := schema.ParseGroupVersion(e.InvolvedObject.APIVersion)
	return gv.Group
}

// cleanup keeps the metadata an Alert may use, as Flux's event server does on ingest: keys of
// the event group and of the involved object's group, without the checksum and digest keys.
func cleanup(e *event.Event) {
	og := objectGroup(e) + "/"
	out := make(map[string]string, len(e.Metadata))
	for k, v := range e.Metadata {
		if strings.EqualFold(k, og+metaChecksum) || strings.EqualFold(k, og+metaDigest) {
			continue
		}
		if strings.HasPrefix(k, eventGroup+"/") || strings.HasPrefix(k, og) {
			out[k] = v
		}
	}
	e.Metadata = out
}

// removeToken drops the object's token key, internal to its controller, before an event goes
// anywhere.
func removeToken(e *event.Event) {
	delete(e.Metadata, objectGroup(e)+"/"+metaToken)
}

// dedupKey identifies an event for duplicate suppression: the involved object, the message and
// every metadata entry (the revision among them), hashed.
func dedupKey(e *event.Event) string {
	h := sha256.New()
	for _, s := range []string{"event", "name=" + e.InvolvedObject.Name, "namespace=" + e.InvolvedObject.Namespace,
		"kind=" + e.InvolvedObject.Kind, "message=" + e.Message} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte(k + "=" + e.Metadata[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// isCommitStatusUpdate reports whether e ends a reconcile (its controller marked it
// commit_status=update): the events commit-status providers report.
func isCommitStatusUpdate(e *event.Event) bool {
	return e.Metadata[objectGroup(e)+"/"+metaCommitStatus] == commitStatusUpd
}

// hasCommitKey reports whether e names a commit in the event group's metadata.
func hasCommitKey(e *event.Event) bool { return e.Metadata[eventGroup+"/"+metaCommit] != "" }

// hasChangeRequestKey reports whether e names a change request (pull or merge request).
func hasChangeRequestKey(e *event.Event) bool { return e.Metadata[eventGroup+"/"+metaChangeReq] != "" }

// combine merges the metadata sources in Flux's precedence, lowest first: the object's
// event.toolkit.fluxcd.io annotations, the Alert's eventMetadata, its summary, and the
// controller's own metadata; keys lose their group prefix. It returns the keys given by more
// than one source.
func combine(e *event.Event, eventMetadata map[string]string, summary string) []string {
	out := map[string]string{}
	sources := map[string]int{}
	for k, v := range e.Metadata {
		if key, ok := strings.CutPrefix(k, eventGroup+"/"); ok {
			out[key] = v
			sources[key]++
		}
	}
	for k, v := range eventMetadata {
		out[k] = v
		sources[k]++
	}
	if summary != "" {
		out[metaSummary] = summary
		sources[metaSummary]++
	}
	og := objectGroup(e) + "/"
	for k, v := range e.Metadata {
		if key, ok := strings.CutPrefix(k, og); ok {
			out[key] = v
			sources[key]++
		}
	}
	var conflicts []string
	for k, n := range sources {
		if n > 1 {
			conflicts = append(conflicts, k)
		}
	}
	sort.Strings(conflicts)
	if len(out) > 0 {
		e.Metadata = out
	}
	return conflicts
}

// commitStatusTypes are the providers that post commit statuses.
var commitStatusTypes = map[string]bool{
	"github": true, "gitlab": true, "gitea": true, "bitbucketserver": true, "bitbucket": true, "azuredevops": true,
}

// changeRequestTypes are the providers that comment on pull or merge requests.
var changeRequestTypes = map[string]bool{
	"githubpullrequestcomment": true, "gitlabmergerequestcomment": true, "giteapullrequestcomment": true,
}
