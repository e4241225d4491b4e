package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/event"
)

func init() { register("bitbucket", newBitbucketCommitStatus) }

// bitbucketAPI is Bitbucket Cloud's REST API; BITBUCKET_API_BASE_URL overrides it, as in the
// client library Flux uses.
const bitbucketAPI = "https://api.bitbucket.org/2.0"

// bitbucketCommitStatus sets a build status on a Bitbucket Cloud commit for each event about
// a revision, as Flux's bitbucket provider: SUCCESSFUL for info events, FAILED for errors,
// keyed by the SHA-1 of the Alert's status key (Bitbucket keys are 40 characters at most),
// named "<kind>/<name>"; progressing events are skipped, and so is a status the key already
// has.
type bitbucketCommitStatus struct {
	api         string
	owner, repo string
	// user and password are basic credentials; bearer is an access token instead.
	user, password, bearer string
	key                    func(event.Event) string
	hc                     *http.Client
	timeout                time.Duration
}

func newBitbucketCommitStatus(c Config) (Notifier, error) {
	if c.Token == "" {
		return nil, Permanent(errors.New("bitbucket token cannot be empty"))
	}
	key, err := commitStatusKeyer(c)
	if err != nil {
		return nil, err
	}
	repo, err := parseGitRepoAddress(c.Address)
	if err != nil {
		return nil, err
	}
	user, password, ok := strings.Cut(c.Token, ":")
	if !ok {
		return nil, Permanent(errors.New("invalid token format, expected to be <user>:<password>"))
	}
	owner, name, err := repo.ownerRepo()
	if err != nil {
		return nil, err
	}
	hc, err := httpClient(c)
	if err != nil {
		return nil, err
	}
	b := &bitbucketCommitStatus{api: bitbucketAPI, owner: owner, repo: name, key: key, hc: hc, timeout: c.Timeout}
	if v := os.Getenv("BITBUCKET_API_BASE_URL"); v != "" {
		b.api = strings.TrimSuffix(v, "/")
	}
	// x-token-auth and x-bitbucket-api-token-auth mean the password is an access token.
	if user == "x-token-auth" || user == "x-bitbucket-api-token-auth" {
		b.bearer = password
	} else {
		b.user, b.password = user, password
	}
	return b, nil
}

// bitbucketStatus is a commit build status as Bitbucket Cloud reads and writes it.
type bitbucketStatus struct {
	Key         string `json:"key"`
	URL         string `json:"url"`
	State       string `json:"state"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (b *bitbucketCommitStatus) Post(ctx context.Context, e event.Event) error {
	return bitbucketStatuses.post(ctx, e, b.key, b.timeout, fixed[commitStatusAPI](b))
}

// status is s as Bitbucket reads it: keyed by the SHA-1 of the key, named "<kind>/<name>".
func (b *bitbucketCommitStatus) status(s commitStatus) bitbucketStatus {
	return bitbucketStatus{
		Key:         sha1Hex(s.key),
		URL:         "https://bitbucket.org",
		State:       s.state,
		Name:        commitStatusName(s.event),
		Description: s.description,
	}
}

// statuses is the URL of the commit's build statuses.
func (b *bitbucketCommitStatus) statuses(sha string) string {
	return fmt.Sprintf("%s/repositories/%s/%s/commit/%s/statuses/build", b.api, url.PathEscape(b.owner), url.PathEscape(b.repo), sha)
}

// has reports whether the status of the key has the state and description.
func (b *bitbucketCommitStatus) has(ctx context.Context, s commitStatus) (bool, error) {
	status := b.status(s)
	var existing bitbucketStatus
	switch err := b.call(ctx, http.MethodGet, b.statuses(s.sha)+"/"+status.Key, nil, &existing); {
	case isNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return existing.State == status.State && existing.Description == status.Description, nil
}

func (b *bitbucketCommitStatus) set(ctx context.Context, s commitStatus) error {
	return b.call(ctx, http.MethodPost, b.statuses(s.sha), b.status(s), nil)
}

func (b *bitbucketCommitStatus) call(ctx context.Context, method, u string, body, out any) error {
	a := apiCall{method: method, url: u, body: body, user: b.user, password: b.password}
	if b.bearer != "" {
		a.headers = map[string]string{"Authorization": "Bearer " + b.bearer}
	}
	return callAPI(ctx, b.hc, a, out)
}
