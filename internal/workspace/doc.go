// Package workspace unpacks source artifacts into directories that builds read: each artifact
// (by digest) once, shared by every user, kept a while after the last user let it go.
//
// Invariants: a tree is unpacked by the artifact store's confined extraction, at most once at
// a time per digest; a tree is removed only when nobody holds it; Close removes every tree.
package workspace
