package git

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/weirgitops/weir/internal/redact"
)

// scpLike matches "user@host:path" and "host:path" addresses, which Flux does
// not accept: they carry no scheme and cannot hold a port.
var scpLike = regexp.MustCompile(`^(?:[^@/:]+@)?[^@/:]+:[^/]`)

// ParseURL validates a repository URL the way Flux does: the scheme must be
// http, https or ssh and a host is required. The error wraps ErrInvalidURL
// and never contains credentials.
func ParseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	if !strings.Contains(raw, "://") && scpLike.MatchString(raw) {
		return nil, fmt.Errorf("%w: scp-like address %q is not supported, use ssh://user@host/path", ErrInvalidURL, redactSCP(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot parse %s", ErrInvalidURL, RedactURL(raw))
	}
	switch u.Scheme {
	case "http", "https", "ssh":
	default:
		return nil, fmt.Errorf("%w: unsupported scheme %q in %s, want http, https or ssh", ErrInvalidURL, u.Scheme, RedactURL(raw))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host in %s", ErrInvalidURL, RedactURL(raw))
	}
	return u, nil
}

// RedactURL returns rawURL without credentials, for messages and logs: the whole userinfo
// (user name and password; a token is often passed as the user name) is replaced by "***".
func RedactURL(rawURL string) string { return redact.URL(rawURL) }

func redactSCP(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		return "***" + raw[i:]
	}
	return raw
}

// urlSecrets returns the credentials in rawURL's userinfo, so that they are hidden
// wherever an error repeats them outside the URL.
func urlSecrets(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return nil
	}
	pw, _ := u.User.Password()
	if u.Scheme == "ssh" {
		// An SSH user name ("git") names an account, not a credential.
		return []string{pw}
	}
	return []string{u.User.Username(), pw}
}
