package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("bitbucketserver", newBitbucketServerCommitStatus) }

// bitbucketServerCommitStatus sets a build status on a Bitbucket Server or Data Center commit
// for each event about a revision, as Flux's bitbucketserver provider: SUCCESSFUL for info
// events, FAILED for errors, keyed by the SHA-1 of the Alert's status key, named
// "<kind>/<name> [<description>]" (the server shows the name only), linking to the
// repository; progressing events are skipped, and so is a status the key already has.
//
// The address is the repository's HTTP clone URL, https://host[/context]/scm/<project>/<repo>.git.
type bitbucketServerCommitStatus struct {
	// commits is the URL of the repository's commits; a commit's builds are under
	// <commits>/<sha>/builds.
	commits string
	// link is the repository address, without credentials, that the status links to.
	link                  string
	token, user, password string
	key                   func(event.Event) string
	hc                    *http.Client
	timeout               time.Duration
}

func newBitbucketServerCommitStatus(c Config) (Notifier, error) {
	key, err := commitStatusKeyer(c)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(c.Address))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, Permanent(fmt.Errorf("could not parse git address %q: must be an http or https clone URL", redactURL(c.Address)))
	}
	repo, err := parseGitRepoAddress(c.Address)
	if err != nil {
		return nil, err
	}
	// Clone URLs have /scm/ before the project; what precedes it is the server's context path.
	path := "/" + repo.path
	i := strings.LastIndex(path, "/scm/")
	if i < 0 {
		return nil, Permanent(errors.New("could not parse git address: supplied provider address is not http(s) git clone url"))
	}
	project, slug, ok := strings.Cut(path[i+len("/scm/"):], "/")
	if !ok || project == "" || slug == "" || strings.Contains(slug, "/") {
		return nil, Permanent(fmt.Errorf("invalid repository id %q", path[i+len("/scm/"):]))
	}
	user := c.BasicUsername
	if user == "" {
		user = c.Username
	}
	if c.Token == "" && (user == "" || c.BasicPassword == "") {
		return nil, Permanent(errors.New("invalid credentials, expected to be one of username/password or API Token"))
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	u.User = nil
	return &bitbucketServerCommitStatus{
		commits: repo.base + path[:i] + "/rest/api/latest/projects/" + url.PathEscape(project) +
			"/repos/" + url.PathEscape(slug) + "/commits",
		link:  u.String(),
		token: c.Token, user: user, password: c.BasicPassword,
		key: key, hc: hc, timeout: c.Timeout,
	}, nil
}

// bitbucketServerStatus is a build status as Bitbucket Server reads and writes it.
type bitbucketServerStatus struct {
	Description string `json:"description,omitempty"`
	Key         string `json:"key"`
	Name        string `json:"name,omitempty"`
	State       string `json:"state"`
	URL         string `json:"url"`
}

func (b *bitbucketServerCommitStatus) Post(ctx context.Context, e event.Event) error {
	rev, ok, err := commitStatusFor(e, false)
	if err != nil || !ok {
		return err
	}
	state := "SUCCESSFUL"
	switch e.Severity {
	case event.SeverityInfo:
	case event.SeverityError:
		state = "FAILED"
	default:
		return Permanent(fmt.Errorf("couldn't convert severity %q to a bitbucket server state", e.Severity))
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()

	desc := commitStatusDescription(e)
	status := bitbucketServerStatus{
		Key:         sha1Hex(b.key(e)),
		State:       state,
		URL:         b.link,
		Description: desc,
		Name:        commitStatusName(e) + " [" + desc + "]",
	}
	builds := b.commits + "/" + rev + "/builds"
	var existing bitbucketServerStatus
	switch err := b.call(ctx, http.MethodGet, builds+"?"+url.Values{"key": {status.Key}}.Encode(), nil, &existing); {
	case isNotFound(err):
	case err != nil:
		return fmt.Errorf("could not get existing commit status: %w", err)
	case existing.Key == status.Key && existing.State == status.State &&
		existing.Description == status.Description && existing.Name == status.Name:
		return nil
	}
	if err := b.call(ctx, http.MethodPost, builds, status, nil); err != nil {
		return fmt.Errorf("could not post build status: %w", err)
	}
	return nil
}

func (b *bitbucketServerCommitStatus) call(ctx context.Context, method, u string, body, out any) error {
	a := apiCall{method: method, url: u, body: body, headers: map[string]string{
		"X-Atlassian-Token": "no-check",
		"X-Requested-With":  "XMLHttpRequest",
	}}
	if b.token != "" {
		a.headers["Authorization"] = "Bearer " + b.token
	} else {
		a.user, a.password = b.user, b.password
	}
	return callAPI(ctx, b.hc, a, out)
}
