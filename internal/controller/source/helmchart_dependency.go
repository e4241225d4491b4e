package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/helm"
	"github.com/weirgitops/weir/internal/source/oci"
)

const (
	// dependencyBuildError is Flux's reason for a chart whose dependencies did not build.
	dependencyBuildError = "DependencyBuildError"
	// helmRepositoryURLIndex indexes HelmRepositories by their normalised spec.url, to find
	// the credentials of a dependency's repository.
	helmRepositoryURLIndex = ".spec.url"
)

// indexHelmRepositoryURL is a HelmRepository's URL as dependencies are matched against it.
func indexHelmRepositoryURL(o client.Object) []string {
	repo, ok := o.(*sourcev1.HelmRepository)
	if !ok {
		return nil
	}
	if u := helm.NormalizeRepositoryURL(repo.Spec.URL); u != "" {
		return []string{u}
	}
	return nil
}

// buildDependencies adds the dependencies the chart at chartPath (in the source extracted at
// root) lacks in charts/: file:// ones from the source, remote ones from their repositories
// with the credentials of a HelmRepository in obj's namespace with the same URL.
func (r *HelmChartReconciler) buildDependencies(ctx context.Context, root, chartPath string, obj *sourcev1.HelmChart, ch *chart.Chart) error {
	deps := &helm.Dependencies{
		Root: root, Chart: chartPath, Indexes: r.Indexes, MaxChartSize: r.maxChartSize(),
		Lookup: func(ctx context.Context, repoURL string) (helm.Repository, error) {
			return r.dependencyRepository(ctx, obj.Namespace, repoURL)
		},
	}
	n, err := deps.Build(ctx, ch)
	if err != nil {
		return reconcile.Failed(dependencyBuildError, fmt.Errorf("dependency build error: %w", err))
	}
	if n > 0 {
		// Flux records this as a trace event, which only its log shows.
		ctrl.LoggerFrom(ctx).Info(fmt.Sprintf("resolved %d chart dependencies", n))
	}
	return nil
}

// dependencyRepository is how to reach the dependency repository at repoURL (normalised):
// through the HelmRepository in namespace with that URL (the first by name when several),
// its Secrets and stored index; anonymously when there is none.
func (r *HelmChartReconciler) dependencyRepository(ctx context.Context, namespace, repoURL string) (helm.Repository, error) {
	out := helm.Repository{
		Client: helm.Client{UserAgent: "flux/v2"},
		OCI:    oci.Options{UserAgent: "flux/v2"},
	}
	var list sourcev1.HelmRepositoryList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{helmRepositoryURLIndex: repoURL}); err != nil {
		return out, fmt.Errorf("unable to list HelmRepositories: %w", err)
	}
	if len(list.Items) == 0 {
		return out, nil
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	repo := &list.Items[0]
	if repo.Spec.Timeout != nil {
		out.Timeout = repo.Spec.Timeout.Duration
	}
	if strings.HasPrefix(repoURL, oci.Prefix) {
		opts, err := r.ociOptions(ctx, repo)
		if err != nil {
			return out, fmt.Errorf("HelmRepository '%s': %w", repo.Name, err)
		}
		out.OCI = opts
		return out, nil
	}
	c, err := helmClient(ctx, r.Client, repo)
	if err != nil {
		return out, fmt.Errorf("HelmRepository '%s': %w", repo.Name, err)
	}
	out.Client = c
	if a := repo.Status.Artifact; a != nil && storedAt(r.Store, a) {
		out.IndexDigest = a.Digest
		out.LoadIndex = func() ([]byte, error) { return os.ReadFile(filepath.Join(r.Store.Root(), a.Path)) }
	}
	return out, nil
}
