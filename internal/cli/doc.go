// Package cli is weir's command line: the root command and one file per command group, shaped
// like the flux CLI (same verbs, nouns, aliases and flags) so that habits carry over.
//
// Invariants: commands write through server-side apply with field manager "weir"; an error is
// one line naming the object and the cause, and the exit code says whether the command failed.
package cli
