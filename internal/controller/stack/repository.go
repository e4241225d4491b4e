package stack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v88/github"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/reconcile"
)

// repoResult is what the repository step did.
type repoResult struct {
	repo *github.Repository
	// action is "created", "imported", "updated" or "" (nothing changed).
	action string
}

// reconcileRepository observes the repository and, as the policies allow, creates it (empty
// with a README, or from the template) and brings description, visibility and topics to the
// spec. A repository that exists but that the stack neither created nor may import (Create is
// in the policies) is a name already taken.
func reconcileRepository(ctx context.Context, gh *github.Client, stack *hopsv1.FluxGitopsStack) (repoResult, error) {
	spec := &stack.Spec
	org, name := spec.Repository.Org, repoName(spec)
	full := org + "/" + name
	pol := policiesOf(spec)
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()

	repo, _, err := gh.Repositories.Get(ctx, org, name)
	switch {
	case statusOf(err) == http.StatusNotFound:
		if !pol.create {
			return repoResult{}, reconcile.Failed(ReasonRepositoryNotFound, fmt.Errorf(
				"repository '%s' does not exist and managementPolicies do not include Create", full))
		}
		repo, err = createRepository(ctx, gh, spec, org, name)
		if err != nil {
			return repoResult{}, err
		}
		return repoResult{repo: repo, action: "created"}, nil
	case err != nil:
		return repoResult{}, classify(fmt.Errorf("get repository '%s': %w", full, err), ReasonRepositoryFailed)
	}

	res := repoResult{repo: repo}
	if known := stack.Status.Repository.ID; known != repo.GetID() {
		if pol.create {
			return repoResult{}, reconcile.Failed(ReasonNameTaken, fmt.Errorf(
				"repository '%s' already exists and was not created by this stack: to import it, leave Create out of managementPolicies", full))
		}
		res.action = "imported"
	}
	if !pol.update {
		return res, nil
	}
	edit, topics := repositoryChanges(spec, repo, pol.lateInit)
	if edit != nil {
		updated, _, err := gh.Repositories.Edit(ctx, org, name, edit)
		if err != nil {
			return repoResult{}, classify(fmt.Errorf("update repository '%s': %w", full, err), ReasonRepositoryFailed)
		}
		repo, res.repo = updated, updated
		if res.action == "" {
			res.action = "updated"
		}
	}
	if topics != nil {
		if _, _, err := gh.Repositories.ReplaceAllTopics(ctx, org, name, topics); err != nil {
			return repoResult{}, classify(fmt.Errorf("set topics of repository '%s': %w", full, err), ReasonRepositoryFailed)
		}
		repo.Topics = topics
		if res.action == "" {
			res.action = "updated"
		}
	}
	return res, nil
}

// createRepository creates the repository: from the template, or with a README, in the
// organisation (or, when org is the authenticated user, in the user's account); topics follow.
func createRepository(ctx context.Context, gh *github.Client, spec *hopsv1.FluxGitopsStackSpec, org, name string) (*github.Repository, error) {
	full := org + "/" + name
	private := spec.Repository.Private == nil || *spec.Repository.Private
	var repo *github.Repository
	var err error
	if t := spec.Repository.Template; t != nil {
		repo, _, err = gh.Repositories.CreateFromTemplate(ctx, t.Owner, t.Repository, &github.TemplateRepoRequest{
			Name: &name, Owner: &org, Private: &private, IncludeAllBranches: &t.IncludeAllBranches,
			Description: optional(spec.Repository.Description),
		})
		tmpl := t.Owner + "/" + t.Repository
		switch {
		case statusOf(err) == http.StatusNotFound:
			return nil, reconcile.Failed(ReasonTemplateNotFound, fmt.Errorf(
				"create repository '%s' from template '%s': the template or the owner '%s' does not exist or is not visible to the credentials", full, tmpl, org))
		case statusOf(err) == http.StatusUnprocessableEntity && strings.Contains(err.Error(), "not a template"):
			return nil, reconcile.Failed(ReasonNotATemplate, fmt.Errorf(
				"create repository '%s': '%s' is not a template repository", full, tmpl))
		case statusOf(err) == http.StatusUnprocessableEntity:
			return nil, reconcile.Failed(ReasonNameTaken, fmt.Errorf("create repository '%s' from template '%s': %w", full, tmpl, err))
		case err != nil:
			return nil, classify(fmt.Errorf("create repository '%s' from template '%s': %w", full, tmpl, err), ReasonRepositoryFailed)
		}
	} else {
		req := &github.Repository{Name: &name, Private: &private, AutoInit: github.Ptr(true), Description: optional(spec.Repository.Description)}
		repo, _, err = gh.Repositories.Create(ctx, org, req)
		if statusOf(err) == http.StatusNotFound {
			// Not an organisation: the authenticated user's own account, or nobody.
			user, _, uerr := gh.Users.Get(ctx, "")
			if uerr != nil || !strings.EqualFold(user.GetLogin(), org) {
				return nil, reconcile.Failed(ReasonOrganizationNotFound, fmt.Errorf(
					"create repository '%s': organisation '%s' does not exist or the credentials cannot create repositories in it", full, org))
			}
			repo, _, err = gh.Repositories.Create(ctx, "", req)
		}
		switch {
		case statusOf(err) == http.StatusUnprocessableEntity:
			return nil, reconcile.Failed(ReasonNameTaken, fmt.Errorf("create repository '%s': %w", full, err))
		case err != nil:
			return nil, classify(fmt.Errorf("create repository '%s': %w", full, err), ReasonRepositoryFailed)
		}
	}
	if len(spec.Repository.Topics) > 0 {
		if _, _, err := gh.Repositories.ReplaceAllTopics(ctx, org, name, spec.Repository.Topics); err != nil {
			return nil, classify(fmt.Errorf("set topics of repository '%s': %w", full, err), ReasonRepositoryFailed)
		}
		repo.Topics = spec.Repository.Topics
	}
	return repo, nil
}

// repositoryChanges returns the edit that brings the repository to the spec (nil when none)
// and the topics to set (nil when they match). Unset fields are left as GitHub has them,
// except visibility, which is private by default unless lateInit takes GitHub's.
func repositoryChanges(spec *hopsv1.FluxGitopsStackSpec, repo *github.Repository, lateInit bool) (*github.Repository, []string) {
	var edit *github.Repository
	want := spec.Repository
	private := repo.GetPrivate()
	switch {
	case want.Private != nil:
		private = *want.Private
	case !lateInit:
		private = true
	}
	if private != repo.GetPrivate() {
		edit = &github.Repository{Private: &private}
	}
	if want.Description != "" && want.Description != repo.GetDescription() {
		if edit == nil {
			edit = &github.Repository{}
		}
		edit.Description = &want.Description
	}
	var topics []string
	if want.Topics != nil {
		a, b := slices.Clone(want.Topics), slices.Clone(repo.Topics)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			topics = slices.Clone(want.Topics)
		}
	}
	return edit, topics
}

// deleteRepository deletes the repository the stack recorded, when the policies allow it; a
// repository that is gone, or that is not the one recorded, is left alone.
func deleteRepository(ctx context.Context, gh *github.Client, stack *hopsv1.FluxGitopsStack) (bool, error) {
	spec := &stack.Spec
	org, name := spec.Repository.Org, repoName(spec)
	full := org + "/" + name
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	repo, _, err := gh.Repositories.Get(ctx, org, name)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return false, nil
	case err != nil:
		return false, classify(fmt.Errorf("get repository '%s': %w", full, err), ReasonRepositoryFailed)
	case repo.GetID() != stack.Status.Repository.ID:
		return false, nil
	}
	if _, err := gh.Repositories.Delete(ctx, org, name); err != nil && statusOf(err) != http.StatusNotFound {
		return false, classify(fmt.Errorf("delete repository '%s': %w", full, err), ReasonRepositoryFailed)
	}
	return true, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
