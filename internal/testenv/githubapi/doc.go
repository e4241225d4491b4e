// Package githubapi is a stand-in for the GitHub REST API endpoints weir uses to manage a
// repository — accounts, repositories (created empty or from a template), topics, deploy keys
// and GitHub App installation tokens — backed by a real Git server, so that what the API
// creates can be cloned, fetched and pushed to over smart HTTP and SSH.
//
// It also plays GitHub's failures: rate limiting (403 or 429 with Retry-After and the
// X-RateLimit headers) and an outage (connections closed without a response).
//
// Invariants: every request needs a valid token (a static one the test gives, or an
// installation token the embedded App stand-in minted); tokens are never logged nor echoed;
// the Git servers admit the same tokens (basic auth, any user name) and, over SSH, the
// repositories' deploy keys.
package githubapi
