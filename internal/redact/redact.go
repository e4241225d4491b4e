package redact

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every hidden credential.
const Mask = "***"

// MinValueLen is the shortest secret value Values hides: shorter ones ("1", "yes") would
// garble a message without hiding anything a reader could not guess.
const MinValueLen = 4

// userinfo matches the authority of a URL with a userinfo part, up to its last '@'.
var userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s"'<>]*@`)

// URL returns rawURL with its whole userinfo (user name and password, which often is a
// token) replaced by Mask. A string that does not parse as a URL is redacted as text.
func URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return Text(rawURL)
	}
	u.User = nil
	if u.Scheme == "" {
		// A scheme-relative URL, "//user:token@host/path", which Text would not recognise.
		if rest, ok := strings.CutPrefix(u.String(), "//"); ok {
			return "//" + Mask + "@" + rest
		}
		return Mask
	}
	scheme, rest, ok := strings.Cut(u.String(), "://")
	if !ok {
		return Text(rawURL)
	}
	return scheme + "://" + Mask + "@" + rest
}

// Text returns s with the userinfo of every URL in it replaced by Mask.
func Text(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s
	}
	return userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
}

// Values returns s with every value of at least MinValueLen bytes replaced by Mask, in plain,
// standard and URL-safe base64 and URL-escaped form; the URLs' userinfo goes too, as in Text.
func Values(s string, values ...string) string {
	s = Text(s)
	var forms []string
	for _, v := range values {
		if len(v) < MinValueLen {
			continue
		}
		forms = append(forms, v, base64.StdEncoding.EncodeToString([]byte(v)),
			base64.RawStdEncoding.EncodeToString([]byte(v)), base64.URLEncoding.EncodeToString([]byte(v)),
			url.QueryEscape(v), url.PathEscape(v))
	}
	// Longest first, so that a value containing another is hidden whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		if len(f) >= MinValueLen && strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Mask)
		}
	}
	return s
}

// Error is an error whose message has credentials removed, keeping the original chain for
// errors.Is and errors.As.
type Error struct {
	msg string
	err error
}

// Error returns the redacted message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the original error.
func (e *Error) Unwrap() error { return e.err }

// Err returns err with its message passed through Values, or err itself when nothing in the
// message needed hiding; nil stays nil.
func Err(err error, values ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := Values(msg, values...)
	if clean == msg {
		return err
	}
	return &Error{msg: clean, err: err}
}
