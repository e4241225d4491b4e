package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/examples"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// site is the demo's Git side: seed 001's eight-layer platform repository, served over HTTP.
type site struct {
	env         *testenv.Env
	storageAddr string
	// receiverAddr is where weir serves Receivers' webhooks.
	receiverAddr string
	t            *gitserver.Standalone
	repo         *gitserver.Repo
	files        map[string]string
	url          string
}

func startSite(_ context.Context, out io.Writer, env *testenv.Env, work string) (*site, error) {
	t := gitserver.NewStandalone(filepath.Join(work, "git"))
	s := &site{env: env, storageAddr: mustFreeAddr(), receiverAddr: mustFreeAddr(), t: t}
	err := t.Do(func() {
		files, err := examples.Files("seed001")
		if err != nil {
			t.Fatal(err)
		}
		root := gitserver.NewRoot(t)
		s.repo = root.NewRepo("platform")
		s.repo.Commit("main", "platform: eight layers from namespaces to apps", files)
		s.files = files
		s.url = root.ServeHTTP(gitserver.HTTPOptions{}).RepoURL("platform")
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "✔ Git repository served at %s (seed 001: namespaces → crds → crossplane → epis → security → infrastructure → observability → apps)\n", s.url)
	return s, nil
}

func (s *site) Close() { s.t.Close() }

// converge creates the GitRepository and the root Kustomization and prints the Kustomizations
// as they turn Ready.
func (s *site) converge(ctx context.Context, out io.Writer, weir func(...string), timeout time.Duration) error {
	c := s.env.Client
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secrets", Namespace: "flux-system"},
			StringData: map[string]string{"api_key_name": "/apps/myapp/api-key"}},
		&sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
			Spec: sourcev1.GitRepositorySpec{URL: s.url, Interval: metav1.Duration{Duration: time.Minute},
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"}},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
			Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: 10 * time.Minute},
				Path: "./clusters/mycluster-0", Prune: true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "flux-system"}},
		},
	}
	start := time.Now()
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	fmt.Fprintln(out, "► created GitRepository flux-system and Kustomization flux-system (./clusters/mycluster-0)")
	if err := s.waitAll(ctx, out, 9, "", timeout); err != nil {
		return err
	}
	fmt.Fprintf(out, "✔ all 9 Kustomizations Ready in %s\n\n", time.Since(start).Round(time.Millisecond))
	weir("get", "kustomizations", "-n", "flux-system")
	weir("tree", "kustomization", "flux-system", "-n", "flux-system")

	return nil
}

// waitAll prints the Kustomizations whenever their state changes, until n are Ready (at
// revision, when given).
func (s *site) waitAll(ctx context.Context, out io.Writer, n int, revision string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		var list kustomizev1.KustomizationList
		if err := s.env.Client.List(ctx, &list, client.InNamespace("flux-system")); err != nil {
			return err
		}
		var b strings.Builder
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		ready := 0
		for _, ks := range list.Items {
			st, msg := "Unknown", ""
			if c := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready"); c != nil {
				st, msg = string(c.Status), c.Message
			}
			if st == "True" && (revision == "" || ks.Status.LastAppliedRevision == revision) {
				ready++
			}
			if len(msg) > 70 {
				msg = msg[:67] + "..."
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", ks.Name, st, msg)
		}
		_ = tw.Flush()
		if b.String() != last {
			last = b.String()
			fmt.Fprintf(out, "◎ %d/%d Ready\n%s", ready, n, last)
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d Kustomizations Ready after %s", ready, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
