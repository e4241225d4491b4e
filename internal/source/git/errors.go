package git

import (
	"errors"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/weirgitops/weir/internal/redact"
)

var (
	// ErrInvalidURL means the repository URL is malformed or uses an
	// unsupported scheme (including scp-like "user@host:path"). Retrying
	// cannot help until the URL changes.
	ErrInvalidURL = errors.New("invalid repository url")
	// ErrAuthentication means the credentials were rejected or unusable,
	// or the SSH host key did not match known_hosts.
	ErrAuthentication = errors.New("authentication failed")
	// ErrReferenceNotFound means the branch, tag, ref, semver range or
	// commit does not exist in the remote repository.
	ErrReferenceNotFound = errors.New("reference not found")
	// ErrVerification means a signature was missing or did not verify
	// against any of the trusted keys.
	ErrVerification = errors.New("signature verification failed")
)

// scrub returns err with every secret and the userinfo of every URL replaced by "***" in
// its message, keeping the chain for errors.Is.
func scrub(err error, secrets ...string) error { return redact.Err(err, secrets...) }

// classify wraps a go-git error with the sentinel that names its kind, if it
// has one.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, ErrAuthentication):
		return wrapKind(ErrAuthentication, err)
	case errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrEmptyRemoteRepository):
		return wrapKind(ErrReferenceNotFound, err)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"),
		strings.Contains(msg, "knownhosts:"),
		strings.Contains(msg, "host key"),
		strings.Contains(msg, "certificate signed by unknown authority"),
		strings.Contains(msg, "certificate required"),
		strings.Contains(msg, "bad certificate"):
		return wrapKind(ErrAuthentication, err)
	case strings.Contains(msg, "couldn't find remote ref"),
		strings.Contains(msg, "reference not found"),
		strings.Contains(msg, "object not found"):
		return wrapKind(ErrReferenceNotFound, err)
	}
	return err
}

type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.kind.Error() + ": " + e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func wrapKind(kind, err error) error {
	if errors.Is(err, kind) {
		return err
	}
	return &kindError{kind: kind, err: err}
}
