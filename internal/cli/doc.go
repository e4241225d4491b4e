// Package cli is weir's command line: the root command and one file per command group, shaped
// like the flux CLI (same verbs, nouns, aliases, flags and table columns) so that habits carry
// over: get, reconcile, suspend, resume, delete, create (with --export), export, tree, trace,
// events, logs, build, diff, check, stats, completion, install, uninstall and version.
//
// kinds.go describes every Flux kind once (API version, table columns, revision); the verbs
// are generic over it and work on unstructured objects, so that a kind is added in one place.
//
// Invariants: commands write through server-side apply or merge patches with field manager
// "weir"; waits poll the object under --timeout; an error is one line naming the object and
// the cause, and the exit code says whether the command failed (diff: 1 when there are
// differences). Secrets' values are never printed by diff.
package cli
