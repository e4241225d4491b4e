package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

// Condition reasons of the repository step.
const (
	ReasonCredentialsNotFound   = "CredentialsNotFound"
	ReasonInvalidCredentials    = "InvalidCredentials"
	ReasonPermissionDenied      = "PermissionDenied"
	ReasonOrganizationNotFound  = "OrganizationNotFound"
	ReasonRepositoryNotFound    = "RepositoryNotFound"
	ReasonNameTaken             = "RepositoryNameTaken"
	ReasonTemplateNotFound      = "TemplateNotFound"
	ReasonNotATemplate          = "NotATemplateRepository"
	ReasonRateLimited           = "RateLimited"
	ReasonGitHubUnavailable     = "GitHubUnavailable"
	ReasonRepositoryFailed      = "RepositoryOperationFailed"
	ReasonRepositoryCreated     = "RepositoryCreated"
	ReasonRepositoryImported    = "RepositoryImported"
	ReasonRepositoryReconciled  = "RepositoryReconciled"
	ReasonRepositoryDeleted     = "RepositoryDeleted"
	ReasonRepositoryDeleteGuard = "RepositoryKept"
)

// apiTimeout bounds every GitHub API call.
const apiTimeout = 30 * time.Second

// credentials are the stack's GitHub credentials: a token, or a GitHub App.
type credentials struct {
	token string
	app   *git.GitHubApp
	// secret is "<namespace>/<name>" of the Secret, for messages.
	secret string
	// apiURL is the API root: repository.apiURL, else the Secret's apiURL or
	// githubAppBaseURL, else GitHub's.
	apiURL string
}

// readCredentials reads the credentials Secret: "token", or Flux's GitHub App keys.
func readCredentials(ctx context.Context, c client.Reader, stack *hopsv1.FluxGitopsStack) (credentials, error) {
	name := credentialsSecret(&stack.Spec)
	ref := stack.Namespace + "/" + name
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: stack.Namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return credentials{}, reconcile.Failed(ReasonCredentialsNotFound, fmt.Errorf("GitHub credentials Secret '%s' not found", ref))
		}
		return credentials{}, reconcile.Failed(ReasonCredentialsNotFound, fmt.Errorf("get GitHub credentials Secret '%s': %w", ref, err))
	}
	cr := credentials{secret: ref, apiURL: apiURL(&stack.Spec, s.Data)}
	if tok := strings.TrimSpace(string(s.Data["token"])); tok != "" {
		cr.token = tok
		return cr, nil
	}
	if id := strings.TrimSpace(string(s.Data["githubAppID"])); id != "" {
		appID, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return credentials{}, reconcile.Failed(ReasonInvalidCredentials, fmt.Errorf("Secret '%s': githubAppID is not a number", ref)) //nolint:staticcheck // names the key
		}
		app := &git.GitHubApp{AppID: appID, PrivateKey: s.Data["githubAppPrivateKey"],
			InstallationOwner: strings.TrimSpace(string(s.Data["githubAppInstallationOwner"]))}
		if v := strings.TrimSpace(string(s.Data["githubAppInstallationID"])); v != "" {
			if app.InstallationID, err = strconv.ParseInt(v, 10, 64); err != nil {
				return credentials{}, reconcile.Failed(ReasonInvalidCredentials, fmt.Errorf("Secret '%s': githubAppInstallationID is not a number", ref)) //nolint:staticcheck // names the key
			}
		}
		if app.InstallationID == 0 && app.InstallationOwner == "" {
			app.InstallationOwner = stack.Spec.Repository.Org
		}
		cr.app = app
		return cr, nil
	}
	return credentials{}, reconcile.Failed(ReasonInvalidCredentials,
		fmt.Errorf("Secret '%s' has neither 'token' nor 'githubAppID' and 'githubAppPrivateKey'", ref)) //nolint:staticcheck // names the key
}

// newClient returns a go-github client for the stack's API with the credentials: the token, or
// a freshly minted installation token of the App.
func newClient(ctx context.Context, hc *http.Client, cr credentials) (*github.Client, error) {
	base := cr.apiURL
	tok := cr.token
	if cr.app != nil {
		app := *cr.app
		app.BaseURL = strings.TrimSuffix(base, "/")
		src, err := git.NewGitHubAppTokenSource(app, git.WithTransport(hc.Transport))
		if err != nil {
			return nil, reconcile.Failed(ReasonInvalidCredentials, fmt.Errorf("credentials Secret '%s': %w", cr.secret, err))
		}
		t, err := src.Token(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("GitHub App of Secret '%s': %w", cr.secret, err), ReasonInvalidCredentials)
		}
		tok = t.Token
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(hc), github.WithAuthToken(tok)}
	if base != DefaultAPIURL {
		opts = append(opts, github.WithURLs(&base, &base))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		return nil, reconcile.Stalled(ReasonRepositoryFailed, fmt.Errorf("GitHub API URL '%s': %w", base, err))
	}
	return gh, nil
}

// statusOf is the HTTP status of a go-github error, 0 when it has none.
func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// classify maps a GitHub API failure to the retry decision and reason: rate limits wait as long
// as GitHub says, bad credentials and permissions are reported as such, an unreachable or
// failing GitHub is retried with backoff; fallback is the reason of anything else.
func classify(err error, fallback string) error {
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		after := time.Minute
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			after = *abuse.RetryAfter
		}
		return reconcile.Waiting(ReasonRateLimited, after, fmt.Errorf("GitHub rate limit, retrying in %s: %w", after.Round(time.Second), err))
	}
	var rate *github.RateLimitError
	if errors.As(err, &rate) {
		after := max(time.Until(rate.Rate.Reset.Time), time.Second)
		return reconcile.Waiting(ReasonRateLimited, after, fmt.Errorf("GitHub rate limit, retrying in %s: %w", after.Round(time.Second), err))
	}
	var ue *url.Error
	var ne net.Error
	switch code := statusOf(err); {
	case code == http.StatusUnauthorized:
		return reconcile.Failed(ReasonInvalidCredentials, err)
	case code == http.StatusForbidden:
		return reconcile.Failed(ReasonPermissionDenied, err)
	case code >= 500, errors.As(err, &ue), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return reconcile.Failed(ReasonGitHubUnavailable, err)
	}
	return reconcile.Failed(fallback, err)
}
