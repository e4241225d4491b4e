package git

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
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

// RedactURL returns rawURL without secrets, for messages and logs: any
// password is replaced by "***", and so is an http(s) user name (often a
// token). An SSH user name is kept. Unparseable input gives "<invalid url>".
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<invalid url>"
	}
	if u.User == nil {
		return u.String()
	}
	_, hasPassword := u.User.Password()
	user := "***"
	switch {
	case u.Scheme == "ssh" && hasPassword:
		user = url.User(u.User.Username()).String() + ":***"
	case u.Scheme == "ssh":
		return u.String()
	}
	u.User = nil
	scheme, rest, _ := strings.Cut(u.String(), "://")
	return scheme + "://" + user + "@" + rest
}

func redactSCP(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		return "***" + raw[i:]
	}
	return raw
}
