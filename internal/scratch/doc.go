// Package scratch gives a process its own directory under the temporary directory
// (--temp-dir) for clones, unpacked artifacts and builds, and removes the directories that
// processes which ended without cleaning up (killed, crashed, OOM) left there.
//
// Invariants: a directory is removed only when no process holds it, which its lock file
// tells (an flock held as long as its owner lives, released by the kernel however it ends,
// so that a reused PID, a restarted container or a second manager in the same process can't
// be mistaken for the owner); nothing but weir's own "weir-scratch-*" directories is
// touched, so that the temporary directory may be shared with other programs.
package scratch
