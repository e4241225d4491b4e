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

func init() { register("azuredevops", newAzureDevOpsCommitStatus) }

// azureDevOpsAPIVersion is the REST API version of the Git statuses requests (the version of
// the Go client Flux uses).
const azureDevOpsAPIVersion = "6.0"

// azureDevOpsGenre is the genre of Flux's statuses; an Alert summary is appended to it.
const azureDevOpsGenre = "fluxcd"

// azureDevOpsCommitStatus sets a commit status on an Azure DevOps (or Azure DevOps Server)
// repository for each event about a revision, as Flux's azuredevops provider: succeeded for
// info events, error for errors, the Alert's status key as the context name and "fluxcd" (with
// ":<summary>" when the Alert has one) as its genre, the event reason as the description;
// progressing events are skipped, and so is a status equal to the latest one of its context.
//
// The address is the repository's URL, https://dev.azure.com/<org>/<project>/_git/<repo>; the
// token is a personal access token.
type azureDevOpsCommitStatus struct {
	// commits is the URL of the repository's commits; a commit's statuses are under
	// <commits>/<sha>/statuses.
	commits string
	token   string
	key     func(event.Event) string
	hc      *http.Client
	timeout time.Duration
}

func newAzureDevOpsCommitStatus(c Config) (Notifier, error) {
	if c.Token == "" {
		return nil, Permanent(errors.New("azure devops token cannot be empty"))
	}
	key, err := commitStatusKeyer(c)
	if err != nil {
		return nil, err
	}
	repo, err := parseGitRepoAddress(c.Address)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(repo.path, "/")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[3] == "" {
		return nil, Permanent(fmt.Errorf("invalid repository id %q", repo.path))
	}
	org, project, name := parts[0], parts[1], parts[3]
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	return &azureDevOpsCommitStatus{
		commits: repo.base + "/" + url.PathEscape(org) + "/" + url.PathEscape(project) +
			"/_apis/git/repositories/" + url.PathEscape(name) + "/commits",
		token: c.Token, key: key, hc: hc, timeout: c.Timeout,
	}, nil
}

// azureDevOpsStatus is a commit status as Azure DevOps reads and writes it.
type azureDevOpsStatus struct {
	Context     *azureDevOpsStatusContext `json:"context,omitempty"`
	Description *string                   `json:"description,omitempty"`
	State       *string                   `json:"state,omitempty"`
}

type azureDevOpsStatusContext struct {
	Genre *string `json:"genre,omitempty"`
	Name  *string `json:"name,omitempty"`
}

func (a *azureDevOpsCommitStatus) Post(ctx context.Context, e event.Event) error {
	return azureDevOpsStatuses.post(ctx, e, a.key, a.timeout, fixed[commitStatusAPI](a))
}

// azureDevOpsGenreOf is the context genre of e's status: "fluxcd", with ":<summary>" when
// the Alert has one.
func azureDevOpsGenreOf(e event.Event) string {
	genre := azureDevOpsGenre
	if summary, ok := e.Metadata[metaSummary]; ok {
		genre += ":" + summary
	}
	return genre
}

// statuses is the URL of the commit's statuses.
func (a *azureDevOpsCommitStatus) statuses(sha string) string {
	return a.commits + "/" + sha + "/statuses?" + url.Values{"api-version": {azureDevOpsAPIVersion}}.Encode()
}

// has reports whether the latest status of the key and genre has the state and description.
func (a *azureDevOpsCommitStatus) has(ctx context.Context, s commitStatus) (bool, error) {
	genre := azureDevOpsGenreOf(s.event)
	var list struct {
		Value []azureDevOpsStatus `json:"value"`
	}
	if err := a.call(ctx, http.MethodGet, a.statuses(s.sha), nil, &list); err != nil {
		return false, err
	}
	for _, st := range list.Value {
		if st.Context == nil || st.Context.Name == nil || st.Context.Genre == nil || st.State == nil || st.Description == nil {
			continue
		}
		if *st.Context.Name == s.key && *st.Context.Genre == genre {
			return *st.State == s.state && *st.Description == s.description, nil
		}
	}
	return false, nil
}

func (a *azureDevOpsCommitStatus) set(ctx context.Context, s commitStatus) error {
	genre := azureDevOpsGenreOf(s.event)
	status := azureDevOpsStatus{
		Context:     &azureDevOpsStatusContext{Genre: &genre, Name: &s.key},
		Description: &s.description,
		State:       &s.state,
	}
	return a.call(ctx, http.MethodPost, a.statuses(s.sha), status, nil)
}

func (a *azureDevOpsCommitStatus) call(ctx context.Context, method, u string, body, out any) error {
	// A personal access token is the password of an empty user name.
	return callAPI(ctx, a.hc, apiCall{method: method, url: u, body: body, password: a.token}, out)
}
