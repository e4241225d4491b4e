package bootstrap

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v88/github"
)

// GitHub is the repository side of `weir bootstrap github`: the repository, its teams and its
// deploy key, through the REST API.
type GitHub struct {
	Client     *github.Client
	Owner      string
	Repository string
	// Personal says the owner is the token's user, not an organisation.
	Personal bool
	// Private is the visibility of a created (or, with Reconcile, existing) repository.
	Private bool
	// Reconcile brings an existing repository's visibility to Private.
	Reconcile bool
	// Teams maps team slugs to their permission (maintain when none was given).
	Teams map[string]string
	// ReadWriteKey gives the deploy key write access.
	ReadWriteKey bool
	Out          io.Writer
}

// APIURL is the REST API root of a GitHub hostname: api.github.com for github.com, else GitHub
// Enterprise Server's /api/v3/ (a hostname given as an http(s):// URL is used as it is, for
// servers without TLS in tests).
func APIURL(hostname string) string {
	switch {
	case hostname == "" || hostname == "github.com":
		return "https://api.github.com/"
	case strings.HasPrefix(hostname, "http://") || strings.HasPrefix(hostname, "https://"):
		return strings.TrimSuffix(hostname, "/") + "/"
	}
	return "https://" + hostname + "/api/v3/"
}

// NewGitHubClient returns a go-github client for hostname with token.
func NewGitHubClient(hc *http.Client, hostname, token string) (*github.Client, error) {
	base := APIURL(hostname)
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(hc), github.WithAuthToken(token)}
	if base != "https://api.github.com/" {
		opts = append(opts, github.WithURLs(&base, &base))
	}
	return github.NewClient(opts...)
}

// EnsureRepository returns the repository, created (private unless told otherwise, with a
// README so that it has a default branch) when it does not exist.
func (g *GitHub) EnsureRepository(ctx context.Context) (*github.Repository, error) {
	full := g.Owner + "/" + g.Repository
	repo, resp, err := g.Client.Repositories.Get(ctx, g.Owner, g.Repository)
	switch {
	case err == nil:
		if g.Reconcile && repo.GetPrivate() != g.Private {
			if repo, _, err = g.Client.Repositories.Edit(ctx, g.Owner, g.Repository, &github.Repository{Private: &g.Private}); err != nil {
				return nil, fmt.Errorf("update visibility of repository %s: %w", full, err)
			}
			fmt.Fprintf(g.Out, "✔ repository %q reconciled\n", full)
		}
		return repo, nil
	case resp == nil || resp.StatusCode != http.StatusNotFound:
		return nil, fmt.Errorf("get repository %s: %w", full, err)
	}
	org := g.Owner
	if g.Personal {
		org = ""
	}
	repo, _, err = g.Client.Repositories.Create(ctx, org, &github.Repository{Name: &g.Repository, Private: &g.Private, AutoInit: github.Ptr(true)})
	if err != nil {
		return nil, fmt.Errorf("create repository %s: %w", full, err)
	}
	fmt.Fprintf(g.Out, "✔ repository %q created\n", full)
	return repo, nil
}

// AddTeams gives the teams their permission on the repository (organisations only).
func (g *GitHub) AddTeams(ctx context.Context) error {
	if g.Personal {
		return nil
	}
	for team, perm := range g.Teams {
		if _, err := g.Client.Teams.AddTeamRepoBySlug(ctx, g.Owner, team, g.Owner, g.Repository,
			&github.TeamAddTeamRepoOptions{Permission: perm}); err != nil {
			return fmt.Errorf("give team %s %s access: %w", team, perm, err)
		}
		fmt.Fprintf(g.Out, "✔ team %q given %s access\n", team, perm)
	}
	return nil
}

// EnsureDeployKey adds the public key as the deploy key named title, replacing a key of that
// title with another content; it reports whether it changed anything.
func (g *GitHub) EnsureDeployKey(ctx context.Context, title, public string) (bool, error) {
	keys, _, err := g.Client.Repositories.ListKeys(ctx, g.Owner, g.Repository, &github.ListOptions{PerPage: 100})
	if err != nil {
		return false, fmt.Errorf("list deploy keys: %w", err)
	}
	for _, k := range keys {
		if k.GetTitle() != title {
			continue
		}
		if sameKey(k.GetKey(), public) && k.GetReadOnly() == !g.ReadWriteKey {
			return false, nil
		}
		if _, err := g.Client.Repositories.DeleteKey(ctx, g.Owner, g.Repository, k.GetID()); err != nil {
			return false, fmt.Errorf("replace deploy key %s: %w", title, err)
		}
	}
	readOnly := !g.ReadWriteKey
	if _, _, err := g.Client.Repositories.CreateKey(ctx, g.Owner, g.Repository, &github.Key{Title: &title, Key: &public, ReadOnly: &readOnly}); err != nil {
		return false, fmt.Errorf("add deploy key %s: %w", title, err)
	}
	return true, nil
}

// sameKey compares two authorized_keys lines by type and key, without comments.
func sameKey(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	return len(fa) >= 2 && len(fb) >= 2 && fa[0] == fb[0] && fa[1] == fb[1]
}

// SSHURL is the ssh:// URL of a repository's ssh_url as GitHub gives it (git@host:owner/repo.git).
func SSHURL(raw string) string {
	if strings.Contains(raw, "://") {
		return raw
	}
	userHost, p, ok := strings.Cut(raw, ":")
	if !ok {
		return raw
	}
	return (&url.URL{Scheme: "ssh", Host: strings.TrimPrefix(userHost, "git@"), User: url.User("git"), Path: "/" + p}).String()
}

// DeployKeyTitle is the title of the cluster's deploy key: one per namespace, branch and path.
func DeployKeyTitle(o SyncOptions) string {
	t := "weir-" + o.Namespace + "-" + o.Branch
	if p := strings.Trim(o.Path, "/."); p != "" {
		t += "-" + strings.ReplaceAll(p, "/", "-")
	}
	return t
}
