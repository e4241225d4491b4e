package apply

import (
	"strings"
)

// Action is what applying or deleting did to one object. The values are Flux's.
type Action string

// The actions of a change set.
const (
	// Created: the object did not exist and was created (or was recreated after an
	// immutable-field change with force).
	Created Action = "created"
	// Configured: the object existed and had drifted; it was applied.
	Configured Action = "configured"
	// Unchanged: the object matched its declaration; nothing was written.
	Unchanged Action = "unchanged"
	// Deleted: the object was deleted.
	Deleted Action = "deleted"
	// Skipped: the object was left alone (ssa IfNotPresent or Ignore, reconcile disabled,
	// prune disabled, another owner, or already gone).
	Skipped Action = "skipped"
)

// Changed reports whether the action wrote to the cluster.
func (a Action) Changed() bool {
	return a == Created || a == Configured || a == Deleted
}

// ChangeSetEntry records what happened to one object.
type ChangeSetEntry struct {
	// ObjMetadata identifies the object.
	ObjMetadata ObjMetadata
	// Version is the API version the object was applied with (`v1`), the `v` of its
	// inventory entry.
	Version string
	// Subject names the object as events do: `Kind/namespace/name`.
	Subject string
	// Action is what happened.
	Action Action
}

// String returns "Subject action", the line Flux puts in events.
func (e ChangeSetEntry) String() string {
	return e.Subject + " " + string(e.Action)
}

func newEntry(meta ObjMetadata, version string, action Action) ChangeSetEntry {
	return ChangeSetEntry{ObjMetadata: meta, Version: version, Subject: meta.Subject(), Action: action}
}

// ChangeSet lists what an apply, prune or deletion did, in the order it was done.
type ChangeSet struct {
	Entries []ChangeSetEntry
}

// Add appends entries.
func (c *ChangeSet) Add(entries ...ChangeSetEntry) {
	c.Entries = append(c.Entries, entries...)
}

// Append appends the entries of other, which may be nil.
func (c *ChangeSet) Append(other *ChangeSet) {
	if other != nil {
		c.Entries = append(c.Entries, other.Entries...)
	}
}

// HasChanged reports whether any entry wrote to the cluster.
func (c *ChangeSet) HasChanged() bool {
	if c == nil {
		return false
	}
	for _, e := range c.Entries {
		if e.Action.Changed() {
			return true
		}
	}
	return false
}

// Changes returns the entries that wrote to the cluster (created, configured, deleted): what
// an event reports.
func (c *ChangeSet) Changes() *ChangeSet {
	out := &ChangeSet{}
	if c == nil {
		return out
	}
	for _, e := range c.Entries {
		if e.Action.Changed() {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// String returns one "Subject action" line per entry, as in Flux's events:
//
//	Deployment/apps/podinfo configured
//	Service/apps/podinfo created
func (c *ChangeSet) String() string {
	if c == nil {
		return ""
	}
	lines := make([]string, len(c.Entries))
	for i, e := range c.Entries {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// ToMap returns the entries as subject → action, the shape Flux logs a change set in.
func (c *ChangeSet) ToMap() map[string]Action {
	m := make(map[string]Action)
	if c == nil {
		return m
	}
	for _, e := range c.Entries {
		m[e.Subject] = e.Action
	}
	return m
}
