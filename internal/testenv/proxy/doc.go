// Package proxy starts a real HTTP proxy for tests: CONNECT tunnels (for
// HTTPS and anything else over TCP) and plain-HTTP forwarding, with optional
// basic proxy credentials. A hosts map lets the proxy resolve names nothing
// else resolves, so a test can prove that a client went through the proxy:
// without it the name does not resolve at all.
//
// Invariants: the proxy listens on 127.0.0.1 only; it and every tunnel it
// opened are closed through t.Cleanup; it records the target of every
// request it served, never a credential.
package proxy
