// Package gitserver starts real Git servers on 127.0.0.1 for tests and
// authors the repositories they serve.
//
// A Root is a directory of bare repositories. Repositories are written with
// the git CLI (commits from a map of files, symlinks, branches, lightweight and
// annotated tags, arbitrary refs such as refs/pull/1/head) and can be changed
// while a server is running, so a test can push a new commit and watch it
// appear. ServeHTTP serves a Root through `git http-backend` (smart HTTP, CGI)
// with optional basic or bearer auth and optional TLS from a private CA with
// optional client certificates; ServeSSH serves it through a real SSH server
// running git-upload-pack and git-receive-pack with public-key auth.
//
// Invariants: servers listen on 127.0.0.1 only; every server, listener and
// temporary directory is closed or removed through t.Cleanup; credentials and
// keys are generated per server and never read from the environment; repository
// paths requested by clients are confined to the Root.
package gitserver
