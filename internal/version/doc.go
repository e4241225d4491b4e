// Package version holds weir's build identity: the release version and commit, set at link
// time, and the Go and client-go versions read from the binary's build information.
package version
