package ui

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/plan"
	"github.com/weirgitops/weir/internal/source/git"
)

// branchPlan answers, for a Kustomization whose source is a GitRepository, what merging a
// branch (or any ref) of that repository would change in the cluster: weir plan against the
// cluster, over the branch fetched with the GitRepository's own URL and credentials.
func (srv *Server) branchPlan(w http.ResponseWriter, r *http.Request, _ *Session) {
	q := r.URL.Query()
	ctx := r.Context()
	u := srv.get(ctx, "Kustomization", q.Get("namespace"), q.Get("name"))
	ref := strings.TrimSpace(q.Get("ref"))
	if u == nil || ref == "" {
		writeError(w, http.StatusBadRequest, "a Kustomization and a ref are required")
		return
	}
	var ks kustomizev1.Kustomization
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ks); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if ks.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind {
		writeError(w, http.StatusBadRequest, "branch plans need a GitRepository source")
		return
	}
	dir, cleanup, err := srv.fetchBranch(ctx, &ks, ref)
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	defer cleanup()
	var cleanups []func()
	defer func() {
		for _, c := range cleanups {
			c()
		}
	}()
	snap, err := plan.Discover(ctx, plan.Options{Dir: dir, Root: &ks, Lookup: srv.lookup, Charts: &plan.Charts{},
		Source: srv.planSource(&cleanups)})
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	p, err := plan.Live(ctx, srv.opts.Client, snap, nil, "")
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, p)
}

// fetchBranch clones ref of the Kustomization's GitRepository, with its URL, Secret (and
// proxy Secret).
func (srv *Server) fetchBranch(ctx context.Context, ks *kustomizev1.Kustomization, ref string) (string, func(), error) {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	var repo sourcev1.GitRepository
	if err := srv.opts.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ks.Spec.SourceRef.Name}, &repo); err != nil {
		return "", nil, fmt.Errorf("GitRepository %s/%s: %w", ns, ks.Spec.SourceRef.Name, err)
	}
	opts := git.Options{URL: repo.Spec.URL, Reference: git.Reference{Branch: ref}}
	if strings.HasPrefix(ref, "refs/") {
		opts.Reference = git.Reference{Name: ref}
	}
	if repo.Spec.SecretRef != nil {
		var s corev1.Secret
		if err := srv.opts.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: repo.Spec.SecretRef.Name}, &s); err != nil {
			return "", nil, fmt.Errorf("the GitRepository's Secret: %w", err)
		}
		opts.Auth = git.AuthFromData(s.Data)
	}
	parent, err := os.MkdirTemp("", "weir-ui-branch-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(parent) }
	if _, err := git.Clone(ctx, filepath.Join(parent, "repo"), opts); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("fetch %s of %s: %w", ref, repo.Spec.URL, err)
	}
	return filepath.Join(parent, "repo"), cleanup, nil
}

// planSource reads other sources from their artifacts, for plans; their directories are
// removed by the cleanups it collects.
func (srv *Server) planSource(cleanups *[]func()) func(ctx context.Context, kind, namespace, name string) (string, error) {
	return func(ctx context.Context, kind, namespace, name string) (string, error) {
		if srv.opts.Sources == nil {
			return "", fmt.Errorf("source artifacts cannot be read here")
		}
		dir, cleanup, err := srv.opts.Sources(ctx, kind, namespace, name)
		if err != nil {
			return "", err
		}
		*cleanups = append(*cleanups, cleanup)
		return dir, nil
	}
}
