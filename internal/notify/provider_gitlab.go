package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("gitlab", newGitLabCommitStatus) }

// gitlabCommitStatus sets a commit status on a GitLab project for each event about a
// revision, as Flux's gitlab provider: success for info events, failed for errors, the Alert's
// status key as the name, the event reason as the description; progressing events are
// skipped, and so is a status the commit already has.
type gitlabCommitStatus struct {
	project *gitlabProject
	key     func(event.Event) string
	timeout time.Duration
}

// gitlabProject is a GitLab project's REST API (v4) with a token: gitlab.com's or a
// self-hosted instance's, at the address's host.
type gitlabProject struct {
	api     string // scheme://host/api/v4
	project string // api + "/projects/" + the escaped project path
	token   string
	hc      *http.Client
}

func newGitLabProject(c Config) (*gitlabProject, error) {
	if c.Token == "" {
		return nil, Permanent(errors.New("gitlab token cannot be empty"))
	}
	repo, err := parseGitRepoAddress(c.Address)
	if err != nil {
		return nil, err
	}
	if repo.path == "" {
		return nil, Permanent(fmt.Errorf("invalid repository address %q: no project path", redactURL(c.Address)))
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	api := repo.base + "/api/v4"
	// GitLab takes the URL-encoded project path as its ID; dots are escaped too.
	id := strings.ReplaceAll(url.PathEscape(repo.path), ".", "%2E")
	return &gitlabProject{api: api, project: api + "/projects/" + id, token: c.Token, hc: hc}, nil
}

// call sends one request to the API with the token.
func (p *gitlabProject) call(ctx context.Context, method, u string, body, out any) error {
	return callAPI(ctx, p.hc, apiCall{method: method, url: u, body: body, headers: map[string]string{"Private-Token": p.token}}, out)
}

func newGitLabCommitStatus(c Config) (Notifier, error) {
	key, err := commitStatusKeyer(c)
	if err != nil {
		return nil, err
	}
	project, err := newGitLabProject(c)
	if err != nil {
		return nil, err
	}
	return &gitlabCommitStatus{project: project, key: key, timeout: c.Timeout}, nil
}

// gitlabStatus is a commit status as GitLab lists it.
type gitlabStatus struct {
	SHA         string `json:"sha"`
	Status      string `json:"status"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (g *gitlabCommitStatus) Post(ctx context.Context, e event.Event) error {
	return gitlabStatuses.post(ctx, e, g.key, g.timeout, fixed[commitStatusAPI](g))
}

// has reports whether any status of the key on the commit has the state and description.
func (g *gitlabCommitStatus) has(ctx context.Context, s commitStatus) (bool, error) {
	var statuses []gitlabStatus
	listURL := g.project.project + "/repository/commits/" + s.sha + "/statuses?" + url.Values{"name": {s.key}}.Encode()
	if err := g.project.call(ctx, http.MethodGet, listURL, nil, &statuses); err != nil {
		return false, err
	}
	return slices.ContainsFunc(statuses, func(st gitlabStatus) bool {
		return st.SHA == s.sha && st.Status == s.state && st.Description == s.description && st.Name == s.key
	}), nil
}

func (g *gitlabCommitStatus) set(ctx context.Context, s commitStatus) error {
	body := map[string]string{"state": s.state, "name": s.key, "description": s.description}
	return g.project.call(ctx, http.MethodPost, g.project.project+"/statuses/"+s.sha, body, nil)
}
