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
	return bitbucketServerStatuses.post(ctx, e, b.key, b.timeout, fixed[commitStatusAPI](b))
}

// status is s as the server reads it: keyed by the SHA-1 of the key, named
// "<kind>/<name> [<description>]", linking to the repository.
func (b *bitbucketServerCommitStatus) status(s commitStatus) bitbucketServerStatus {
	return bitbucketServerStatus{
		Key:         sha1Hex(s.key),
		State:       s.state,
		URL:         b.link,
		Description: s.description,
		Name:        commitStatusName(s.event) + " [" + s.description + "]",
	}
}

// has reports whether the build status of the key is the same.
func (b *bitbucketServerCommitStatus) has(ctx context.Context, s commitStatus) (bool, error) {
	status := b.status(s)
	var existing bitbucketServerStatus
	query := url.Values{"key": {status.Key}}.Encode()
	switch err := b.call(ctx, http.MethodGet, b.commits+"/"+s.sha+"/builds?"+query, nil, &existing); {
	case isNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return existing.Key == status.Key && existing.State == status.State &&
		existing.Description == status.Description && existing.Name == status.Name, nil
}

func (b *bitbucketServerCommitStatus) set(ctx context.Context, s commitStatus) error {
	return b.call(ctx, http.MethodPost, b.commits+"/"+s.sha+"/builds", b.status(s), nil)
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
