// Package redact removes credentials from text meant for people — condition messages, events,
// logs and command output: every URL loses its whole userinfo, and known secret values (in
// plain and base64 form) are replaced by a mask.
//
// Invariants: the functions are pure and never fail; text without a URL userinfo or a known
// value is returned unchanged; a mask never reveals the length of what it hides.
package redact
