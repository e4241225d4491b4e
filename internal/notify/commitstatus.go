package notify

import (
	"context"
	"crypto/sha1" //nolint:gosec // Bitbucket keys are Flux's SHA-1 of the status id, not a security measure.
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/weirgitops/weir/internal/event"
)

// This file holds what the commit-status providers (github, gitlab, gitea, bitbucket,
// bitbucketserver, azuredevops) share, as Flux's notification-controller computes it: the
// repository named by the Provider's address, the commit named by the event's revision, the
// status key, name and description, and the flow that sets a status unless the commit has it,
// with a table of what differs between the services.

// gitRepo is the repository a Git provider's address names.
type gitRepo struct {
	// base is scheme://host[:port] of the service (ssh addresses become https).
	base string
	// host is the host[:port].
	host string
	// path is the repository path without the leading slash and the ".git" suffix, for
	// example "org/repo" or "org/project/_git/repo".
	path string
}

// scpLikeAddress matches Git's scp-like syntax, [user@]host:path.
var scpLikeAddress = regexp.MustCompile(`^(?:[^@/:]+@)?([^@/:]+):(.+)$`)

// parseGitRepoAddress reads a Git repository address as Flux does: an http(s) or ssh URL, or
// the scp-like syntax, whose host gives the API's base and whose path names the repository.
func parseGitRepoAddress(addr string) (gitRepo, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return gitRepo{}, Permanent(errors.New("repository address cannot be empty"))
	}
	var scheme, host, path string
	if !strings.Contains(addr, "://") {
		m := scpLikeAddress.FindStringSubmatch(addr)
		if m == nil {
			return gitRepo{}, Permanent(fmt.Errorf("invalid repository address %q", redactURL(addr)))
		}
		scheme, host, path = "ssh", m[1], m[2]
	} else {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return gitRepo{}, Permanent(fmt.Errorf("invalid repository address %q", redactURL(addr)))
		}
		scheme, host, path = u.Scheme, u.Host, u.Path
	}
	switch scheme {
	case "ssh":
		scheme = "https"
	case "http", "https":
	default:
		return gitRepo{}, Permanent(fmt.Errorf("invalid repository address %q: unsupported scheme %q", redactURL(addr), scheme))
	}
	path = strings.TrimSuffix(strings.TrimLeft(path, "/"), ".git")
	return gitRepo{base: scheme + "://" + host, host: host, path: path}, nil
}

// ownerRepo splits the repository path into its two components, owner and name.
func (r gitRepo) ownerRepo() (owner, name string, err error) {
	parts := strings.Split(r.path, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", Permanent(fmt.Errorf("invalid repository id %q: want <owner>/<repository>", r.path))
	}
	return parts[0], parts[1], nil
}

// commitHash extracts the commit SHA-1 from a revision in any of Flux's formats:
// "main@sha1:<hex>", "sha1:<hex>", the legacy "main/<hex>", or a bare "<hex>".
func commitHash(revision string) (string, error) {
	hash := revision
	if i := strings.LastIndex(hash, ":"); i >= 0 {
		hash = hash[i+1:]
	} else if i := strings.LastIndex(hash, "/"); i >= 0 {
		hash = hash[i+1:]
	}
	if len(hash) != 40 || strings.Trim(hash, "0123456789abcdefABCDEF") != "" {
		return "", Permanent(fmt.Errorf("failed to extract commit hash from '%s' revision", revision))
	}
	return hash, nil
}

// commitStatusFor returns the commit hash an event reports on, and false when the event is not
// one a commit status is set for: progressing events (unless keepProgressing), and events
// without a revision.
func commitStatusFor(e event.Event, keepProgressing bool) (string, bool, error) {
	if e.Reason == reasonProgressing && !keepProgressing {
		return "", false, nil
	}
	rev, ok := eventRevision(e)
	if !ok {
		return "", false, nil
	}
	hash, err := commitHash(rev)
	if err != nil {
		return "", false, err
	}
	return hash, true, nil
}

// commitStatusName is Flux's status name: "<kind>/<name>", lowercased.
func commitStatusName(e event.Event) string {
	return strings.ToLower(e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name)
}

// commitStatusDescription is Flux's status description: the event reason split into its
// camel-case words, lowercased ("ReconciliationSucceeded" is "reconciliation succeeded").
func commitStatusDescription(e event.Event) string {
	return strings.ToLower(strings.Join(camelCaseWords(e.Reason), " "))
}

// defaultCommitStatusKey is the status key Flux derives when the Provider has no
// commitStatusExpr: "<kind>/<name>/<first segment of the provider UID>", lowercased, unique per
// cluster and object.
func defaultCommitStatusKey(providerUID string, e event.Event) string {
	uid, _, _ := strings.Cut(providerUID, "-")
	return strings.ToLower(e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name + "/" + uid)
}

// commitStatusKeyer returns the status key of an event: the rendered key of the Alert when there
// is one, else the default key; an error when the configuration allows neither.
func commitStatusKeyer(c Config) (func(event.Event) string, error) {
	if c.CommitStatus != "" {
		key := c.CommitStatus
		return func(event.Event) string { return key }, nil
	}
	if c.ProviderUID == "" {
		return nil, Permanent(errors.New("commit status cannot be empty: the provider UID is not set"))
	}
	uid := c.ProviderUID
	return func(e event.Event) string { return defaultCommitStatusKey(uid, e) }, nil
}

// commitStatus is the status a commit-status provider sets for an event.
type commitStatus struct {
	// event is the event the status reports.
	event event.Event
	// sha is the commit; state is the service's name of the event's outcome.
	sha, state string
	// key is the Alert's status key or the default one; description is the event's reason
	// in words, cut to the service's limit.
	key, description string
}

// commitStatusAPI is what differs between the commit-status services once the status is
// known: how the statuses of a commit are read and written.
type commitStatusAPI interface {
	// has reports whether the commit already has s, as the service tells (for most, whether
	// the latest status of s.key has its state and description).
	has(ctx context.Context, s commitStatus) (bool, error)
	// set gives the commit the status s.
	set(ctx context.Context, s commitStatus) error
}

// commitStatusService is what differs between the commit-status services in how an event
// becomes a status, and in the words of their errors (Flux's, per provider).
type commitStatusService struct {
	// success and failure are the states of info and error events.
	success, failure string
	// pending is the state of progressing events; without one they are skipped.
	pending string
	// badSeverity is the error of any other severity, %q standing for it.
	badSeverity string
	// maxDescription, when not zero, is the most characters of a description.
	maxDescription int
	// hasFailed and setFailed begin the errors of commitStatusAPI.has and set.
	hasFailed, setFailed string
}

// The commit-status services, one row each.
var (
	githubStatuses = &commitStatusService{
		success: "success", failure: "failure", badSeverity: "can't convert severity %q to a github state",
		maxDescription: githubDescriptionLimit,
		hasFailed:      "could not list commit statuses", setFailed: "could not create commit status",
	}
	gitlabStatuses = &commitStatusService{
		success: "success", failure: "failed", badSeverity: "can't convert severity %q to a gitlab state",
		hasFailed: "unable to list commit status", setFailed: "unable to set commit status",
	}
	giteaStatuses = &commitStatusService{
		success: "success", failure: "failure", pending: "pending", badSeverity: "can't convert severity %q to a gitea state",
		hasFailed: "could not list commit statuses", setFailed: "could not create commit status",
	}
	bitbucketStatuses = &commitStatusService{
		success: "SUCCESSFUL", failure: "FAILED", badSeverity: "can't convert severity %q to a bitbucket state",
		hasFailed: "could not get commit status", setFailed: "could not create commit status",
	}
	bitbucketServerStatuses = &commitStatusService{
		success: "SUCCESSFUL", failure: "FAILED", badSeverity: "couldn't convert severity %q to a bitbucket server state",
		hasFailed: "could not get existing commit status", setFailed: "could not post build status",
	}
	azureDevOpsStatuses = &commitStatusService{
		success: "succeeded", failure: "error", badSeverity: "can't convert severity %q to an azure devops state",
		hasFailed: "could not list commit statuses", setFailed: "could not create commit status",
	}
)

// state is the service's state of e.
func (svc *commitStatusService) state(e event.Event) (string, error) {
	switch {
	case svc.pending != "" && e.Reason == reasonProgressing:
		return svc.pending, nil
	case e.Severity == event.SeverityInfo:
		return svc.success, nil
	case e.Severity == event.SeverityError:
		return svc.failure, nil
	}
	return "", Permanent(fmt.Errorf(svc.badSeverity, e.Severity))
}

// post is the Post of every commit-status provider: the status of e, under the key key
// gives, is set on e's commit unless the commit already has it, all within timeout. Events
// without a revision are skipped, and so are progressing ones unless the service has a
// pending state. connect gives the service's API once e is known to need a status (GitHub
// makes an App's installation token there); its error is returned as is.
func (svc *commitStatusService) post(ctx context.Context, e event.Event, key func(event.Event) string,
	timeout time.Duration, connect func(context.Context) (commitStatusAPI, error),
) error {
	sha, ok, err := commitStatusFor(e, svc.pending != "")
	if err != nil || !ok {
		return err
	}
	state, err := svc.state(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	desc := commitStatusDescription(e)
	if svc.maxDescription > 0 {
		desc = truncateRunes(desc, svc.maxDescription)
	}
	s := commitStatus{event: e, sha: sha, state: state, key: key(e), description: desc}
	api, err := connect(ctx)
	if err != nil {
		return err
	}
	switch has, err := api.has(ctx, s); {
	case err != nil:
		return fmt.Errorf("%s: %w", svc.hasFailed, err)
	case has:
		return nil
	}
	if err := api.set(ctx, s); err != nil {
		return fmt.Errorf("%s: %w", svc.setFailed, err)
	}
	return nil
}

// fixed is the connect function of an API that needs no connection per event: it gives v.
func fixed[T any](v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { return v, nil }
}

// truncateRunes shortens s to at most n characters.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// sha1Hex is the hex SHA-1 of s, which Bitbucket's 40-character status keys are made of.
func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // an identifier, not a security measure.
	return hex.EncodeToString(sum[:])
}

// camelCaseWords splits s where its characters change between lower case, upper case, digits
// and the rest, keeping an upper-case run's last letter with the lower-case word that follows
// ("PDFLoader" is "PDF", "Loader"). Invalid UTF-8 is returned whole.
func camelCaseWords(s string) []string {
	if !utf8.ValidString(s) {
		return []string{s}
	}
	class := func(r rune) int {
		switch {
		case unicode.IsLower(r):
			return 1
		case unicode.IsUpper(r):
			return 2
		case unicode.IsDigit(r):
			return 3
		default:
			return 4
		}
	}
	var runs [][]rune
	last := 0
	for _, r := range s {
		c := class(r)
		if c == last && len(runs) > 0 {
			runs[len(runs)-1] = append(runs[len(runs)-1], r)
		} else {
			runs = append(runs, []rune{r})
		}
		last = c
	}
	for i := 0; i+1 < len(runs); i++ {
		cur, next := runs[i], runs[i+1]
		if len(cur) > 0 && len(next) > 0 && unicode.IsUpper(cur[0]) && unicode.IsLower(next[0]) {
			moved := cur[len(cur)-1]
			runs[i] = cur[:len(cur)-1]
			runs[i+1] = append([]rune{moved}, next...)
		}
	}
	words := make([]string, 0, len(runs))
	for _, r := range runs {
		if len(r) > 0 {
			words = append(words, string(r))
		}
	}
	return words
}
