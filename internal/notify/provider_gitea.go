package notify

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("gitea", newGiteaCommitStatus) }

// giteaCommitStatus sets a commit status on a Gitea (or Forgejo) repository for each event
// about a revision, as Flux's gitea provider: pending for progressing events, success for info
// events, failure for errors, the Alert's status key as the context, the event reason as the
// description; a status equal to the latest one of its context is not set again.
type giteaCommitStatus struct {
	repo    *giteaRepo
	key     func(event.Event) string
	timeout time.Duration
}

// giteaRepo is a Gitea repository's REST API (v1) with a token.
type giteaRepo struct {
	api   string // scheme://host/api/v1
	repo  string // api + "/repos/<owner>/<name>"
	token string
	hc    *http.Client
}

func newGiteaRepo(c Config) (*giteaRepo, error) {
	token := c.Token
	if token == "" {
		token = c.BasicPassword
	}
	if token == "" {
		return nil, Permanent(errors.New("gitea token cannot be empty"))
	}
	repo, err := parseGitRepoAddress(c.Address)
	if err != nil {
		return nil, err
	}
	owner, name, err := repo.ownerRepo()
	if err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	api := repo.base + "/api/v1"
	return &giteaRepo{api: api, repo: api + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name), token: token, hc: hc}, nil
}

// call sends one request to the API with the token.
func (r *giteaRepo) call(ctx context.Context, method, u string, body, out any) error {
	return callAPI(ctx, r.hc, apiCall{method: method, url: u, body: body, headers: map[string]string{"Authorization": "token " + r.token}}, out)
}

func newGiteaCommitStatus(c Config) (Notifier, error) {
	key, err := commitStatusKeyer(c)
	if err != nil {
		return nil, err
	}
	repo, err := newGiteaRepo(c)
	if err != nil {
		return nil, err
	}
	return &giteaCommitStatus{repo: repo, key: key, timeout: c.Timeout}, nil
}

// giteaStatus is a commit status as Gitea lists and creates it.
type giteaStatus struct {
	State       string `json:"state"`
	TargetURL   string `json:"target_url"`
	Description string `json:"description"`
	Context     string `json:"context"`
}

func (g *giteaCommitStatus) Post(ctx context.Context, e event.Event) error {
	return giteaStatuses.post(ctx, e, g.key, g.timeout, fixed[commitStatusAPI](g))
}

// has reports whether the latest status of the key has the state and description.
func (g *giteaCommitStatus) has(ctx context.Context, s commitStatus) (bool, error) {
	var statuses []giteaStatus
	listURL := g.repo.repo + "/commits/" + s.sha + "/statuses?" + url.Values{"limit": {"50"}, "page": {"1"}}.Encode()
	if err := g.repo.call(ctx, http.MethodGet, listURL, nil, &statuses); err != nil {
		return false, err
	}
	for _, st := range statuses {
		if st.Context == "" || st.State == "" || st.Description == "" {
			continue
		}
		if st.Context == s.key {
			return st.State == s.state && st.Description == s.description, nil
		}
	}
	return false, nil
}

func (g *giteaCommitStatus) set(ctx context.Context, s commitStatus) error {
	status := giteaStatus{State: s.state, Description: s.description, Context: s.key}
	return g.repo.call(ctx, http.MethodPost, g.repo.repo+"/statuses/"+s.sha, status, nil)
}
