package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/plan"
	"github.com/weirgitops/weir/internal/sourceref"
)

// planFlags are weir plan's flags.
type planFlags struct {
	path              string
	kustomizationFile string
	name              string
	base              string
	cluster           bool
	localSources      map[string]string
	output            string
	noColor           bool
	concurrency       int
}

func newPlanCommand(g *globals) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show what merging a checkout would change in the cluster",
		Long: "The plan command discovers the Kustomizations and HelmReleases of a repository checkout as weir's " +
			"controllers would (from the root Kustomization, following what each build declares), builds and renders " +
			"them with the controllers' own code, and shows what merging it would change: against a base Git ref " +
			"(--base, offline, no cluster needed) or against the cluster (--cluster: server-side dry runs, what prune " +
			"would delete, what drifted). It also checks the checkout: build and strict substitution errors, missing " +
			"substituteFrom and valuesFrom objects, schemas, dependency cycles, objects applied twice, unencrypted " +
			"Secrets. Exit code: 0 no change, 1 changes, 2 problems.",
		Example: `  # What this branch changes compared with main, offline
  weir plan . --path clusters/prod --base origin/main

  # As a pull-request comment
  weir plan . --path clusters/prod --base origin/main -o markdown > plan.md

  # Against the live cluster
  weir plan . --path clusters/prod --cluster`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			p, err := runPlan(ctx, g, f, dir)
			if err != nil {
				return &exitError{code: plan.ExitProblems, msg: err.Error()}
			}
			switch f.output {
			case "json":
				err = p.WriteJSON(g.out)
			case "markdown":
				err = p.WriteMarkdown(g.out)
			case "", "human":
				err = p.WriteHuman(g.out, !f.noColor && isTerminal(g.out) && os.Getenv("NO_COLOR") == "")
			default:
				return &exitError{code: plan.ExitProblems, msg: fmt.Sprintf("unknown output %q: use human, markdown or json", f.output)}
			}
			if err != nil {
				return &exitError{code: plan.ExitProblems, msg: err.Error()}
			}
			if code := p.ExitCode(); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.path, "path", ".", "path of the root Kustomization in the checkout (Flux's bootstrap sync path, e.g. clusters/prod)")
	fl.StringVar(&f.kustomizationFile, "kustomization-file", "", "a file holding the root Kustomization (instead of --path)")
	fl.StringVar(&f.name, "name", "", "the root Kustomization's name in --kustomization-file, when it holds several")
	fl.StringVar(&f.base, "base", "", "Git ref of the checkout's repository to compare against (offline); without it and --cluster, every object is new")
	fl.BoolVar(&f.cluster, "cluster", false, "compare against the cluster (server-side dry runs) instead of a base ref")
	fl.StringToStringVar(&f.localSources, "local-sources", nil, "other sources' checkouts: Kind/namespace/name=DIR,...")
	fl.StringVarP(&f.output, "output", "o", "human", "output: human, markdown or json")
	fl.BoolVar(&f.noColor, "no-color", false, "no colours in the human output")
	fl.IntVar(&f.concurrency, "concurrency", 8, "builds run at once")
	return cmd
}

// runPlan builds the checkout (and the base), and compares.
func runPlan(ctx context.Context, g *globals, f planFlags, dir string) (*plan.Plan, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("invalid checkout %q: not a directory", dir)
	}
	opts := plan.Options{Dir: abs, RootPath: f.path, LocalSources: f.localSources, Concurrency: f.concurrency, Charts: &plan.Charts{},
		SelfURLs: remoteURLs(abs)}
	if f.kustomizationFile != "" {
		if opts.Root, err = plan.ReadKustomization(f.kustomizationFile, f.name, g.namespace); err != nil {
			return nil, err
		}
	}
	var c client.Client
	if f.cluster {
		if c, err = g.client(); err != nil {
			return nil, err
		}
		opts.Lookup = func(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error) {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			if kind != "ConfigMap" && kind != "Secret" {
				u.SetAPIVersion(sourcev1.GroupVersion.String())
			}
			u.SetKind(kind)
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
				return nil, client.IgnoreNotFound(err)
			}
			return u, nil
		}
		tmp, err := os.MkdirTemp("", "weir-plan-sources-")
		if err != nil {
			return nil, err
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		opts.Source = func(ctx context.Context, kind, namespace, name string) (string, error) {
			return sourceref.Unpack(ctx, c, c.Scheme(), sourceref.Ref{Kind: kind, Namespace: namespace, Name: name}, tmp)
		}
	}
	head, err := plan.Discover(ctx, opts)
	if err != nil {
		return nil, err
	}
	var base *plan.Snapshot
	if f.base != "" {
		baseDir, cleanup, err := checkoutRef(abs, f.base)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		bopts := opts
		bopts.Dir = baseDir
		if f.kustomizationFile != "" {
			if rel, err := filepath.Rel(repoRoot(abs), mustAbs(f.kustomizationFile)); err == nil && !strings.HasPrefix(rel, "..") {
				if k, err := plan.ReadKustomization(filepath.Join(repoBase(baseDir, abs), rel), f.name, g.namespace); err == nil {
					bopts.Root = k
				}
			}
		}
		if base, err = plan.Discover(ctx, bopts); err != nil {
			return nil, err
		}
	}
	if f.cluster {
		return plan.Live(ctx, c, head, base, f.base)
	}
	return plan.Compare(base, head, f.base), nil
}

// remoteURLs are the URLs of the remotes of the Git repository holding dir.
func remoteURLs(dir string) []string {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil
	}
	remotes, err := repo.Remotes()
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range remotes {
		out = append(out, r.Config().URLs...)
	}
	return out
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// repoBase maps the checkout's repository root onto the base tree: baseDir holds the base
// checkout of the directory dir, so the repository root is baseDir minus dir's depth.
func repoBase(baseDir, dir string) string {
	rel, err := filepath.Rel(repoRoot(dir), dir)
	if err != nil || rel == "." {
		return baseDir
	}
	return strings.TrimSuffix(baseDir, string(filepath.Separator)+rel)
}

// checkoutRef writes the tree of ref, in the Git repository holding dir, to a temporary
// directory, and returns the directory matching dir in it.
func checkoutRef(dir, ref string) (string, func(), error) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", nil, fmt.Errorf("--base needs a Git checkout: %w", err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", nil, fmt.Errorf("--base: %w", err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		return "", nil, fmt.Errorf("--base %q: %w", ref, err)
	}
	commit, err := repo.CommitObject(*hash)
	if err != nil {
		return "", nil, fmt.Errorf("--base %q: %w", ref, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", nil, fmt.Errorf("--base %q: %w", ref, err)
	}
	tmp, err := os.MkdirTemp("", "weir-plan-base-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	err = tree.Files().ForEach(func(f *object.File) error {
		p := filepath.Join(tmp, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
			return fmt.Errorf("path %q leaves the tree", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch f.Mode {
		case filemode.Symlink:
			target, err := f.Contents()
			if err != nil {
				return err
			}
			return os.Symlink(target, p)
		case filemode.Submodule:
			return nil
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer func() { _ = r.Close() }()
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, r); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("--base %q: %w", ref, err)
	}
	rel, err := filepath.Rel(wt.Filesystem.Root(), dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = "."
	}
	return filepath.Join(tmp, rel), cleanup, nil
}
