package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/build"
	"github.com/weirgitops/weir/internal/controller/kustomize"
)

// ksBuildFlags are flux build kustomization's flags (diff kustomization shares them).
type ksBuildFlags struct {
	path              string
	kustomizationFile string
	ignorePaths       []string
	dryRun            bool
	strictSubstitute  bool
	recursive         bool
	localSources      map[string]string
	// inMemoryBuild and progressBar are flux's; weir always builds in memory (the checkout
	// is never written) and prints no progress bar.
	inMemoryBuild bool
	progressBar   bool
}

func (f *ksBuildFlags) add(cmd *cobra.Command, pathHelp string) {
	cmd.Flags().StringVar(&f.path, "path", "", pathHelp)
	cmd.Flags().StringVar(&f.kustomizationFile, "kustomization-file", "", "path to the Flux Kustomization YAML file")
	cmd.Flags().StringSliceVar(&f.ignorePaths, "ignore-paths", nil, "set paths to ignore in .gitignore format")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "dry run mode: no cluster; needs --kustomization-file, and skips substituteFrom variables")
	cmd.Flags().BoolVar(&f.strictSubstitute, "strict-substitute", false,
		"when enabled, the post build substitutions will fail if a var without a default value is declared in files but is missing from the input vars")
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "r", false, "recursively build Kustomizations")
	cmd.Flags().StringToStringVar(&f.localSources, "local-sources", nil, "comma-separated list of repositories in format: Kind/namespace/name=path")
	cmd.Flags().BoolVar(&f.inMemoryBuild, "in-memory-build", false, "accepted for flux's scripts: weir always builds in memory and never writes to --path")
}

func newBuildCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "build", Short: "Build a flux object"}
	var f ksBuildFlags
	ks := &cobra.Command{
		Use:     "kustomization [name]",
		Aliases: []string{"ks"},
		Short:   "Build a Kustomization resource",
		Long: "The build kustomization command builds a local directory as the Kustomization in the cluster would, " +
			"through the controller's own build pipeline: patches, images, namespace, SOPS decryption (when the " +
			"decryption Secret is readable; decrypted and still-encrypted Secret values print as **SOPS**), post-build " +
			"substitutions from the cluster's ConfigMaps and Secrets, and validation. With --kustomization-file the " +
			"Kustomization is read from a file; with --dry-run as well no cluster is used at all.",
		Example: `  # Build the local manifests as they would be applied by the apps Kustomization
  weir build kustomization apps --path ./clusters/prod/apps

  # Build in CI without a cluster (substituteFrom variables are skipped)
  weir build kustomization apps --path ./apps --kustomization-file ./clusters/prod/apps.yaml --dry-run

  # Build every Kustomization the build produces, with a local checkout for their source
  weir build kustomization flux-system --path ./clusters/prod --recursive \
    --local-sources GitRepository/flux-system/flux-system=.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			b, err := newKsBuilder(g, f)
			if err != nil {
				return err
			}
			_, objs, err := b.build(ctx, args[0])
			if err != nil {
				return err
			}
			docs := make([]map[string]any, 0, len(objs))
			for _, o := range objs {
				docs = append(docs, maskSecret(o, b.decrypted).Object)
			}
			return printYAMLDocs(g.out, docs)
		},
	}
	f.add(ks, "path to the manifests location")
	cmd.AddCommand(ks, newBuildArtifactCommand(g), newBuildHelmReleaseCommand(g))
	return cmd
}

// ksBuilder builds Kustomizations from local directories with build.Pipeline, the
// controller's build.
type ksBuilder struct {
	g      *globals
	f      ksBuildFlags
	c      client.Client
	ignore func(string, bool) bool
	// decrypted collects the values SOPS decrypted, hidden from the output.
	decrypted map[string]bool
	visited   map[string]bool
}

func newKsBuilder(g *globals, f ksBuildFlags) (*ksBuilder, error) {
	if f.path == "" {
		return nil, fmt.Errorf("invalid resource path %q", f.path)
	}
	abs, err := filepath.Abs(f.path)
	if err != nil {
		return nil, fmt.Errorf("invalid resource path %q: %w", f.path, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("invalid resource path %q", f.path)
	}
	f.path = abs
	if f.dryRun && f.kustomizationFile == "" {
		return nil, fmt.Errorf("dry-run mode requires a kustomization file")
	}
	if f.kustomizationFile != "" {
		if fi, err := os.Stat(f.kustomizationFile); err != nil || fi.IsDir() {
			return nil, fmt.Errorf("invalid kustomization file %q", f.kustomizationFile)
		}
	}
	b := &ksBuilder{g: g, f: f, decrypted: map[string]bool{}, visited: map[string]bool{}}
	if len(f.ignorePaths) > 0 {
		var ps []gitignore.Pattern
		for _, p := range f.ignorePaths {
			ps = append(ps, gitignore.ParsePattern(p, nil))
		}
		m := gitignore.NewMatcher(ps)
		b.ignore = func(p string, dir bool) bool { return m.Match(strings.Split(p, "/"), dir) }
	}
	if !f.dryRun {
		if b.c, err = g.client(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// kustomization returns the Kustomization name: from --kustomization-file when given (the
// document of that name, or its only Kustomization), else from the cluster.
func (b *ksBuilder) kustomization(ctx context.Context, name string) (*kustomizev1.Kustomization, error) {
	if b.f.kustomizationFile == "" {
		var ks kustomizev1.Kustomization
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: b.g.namespace, Name: name}, &ks); err != nil {
			return nil, fmt.Errorf("get Kustomization %s/%s: %w", b.g.namespace, name, err)
		}
		return &ks, nil
	}
	data, err := os.ReadFile(b.f.kustomizationFile)
	if err != nil {
		return nil, err
	}
	var found []*kustomizev1.Kustomization
	for _, doc := range strings.Split(string(data), "\n---") {
		var ks kustomizev1.Kustomization
		if err := yaml.Unmarshal([]byte(doc), &ks); err != nil {
			return nil, fmt.Errorf("invalid kustomization file %q: %w", b.f.kustomizationFile, err)
		}
		if ks.Kind != kustomizev1.KustomizationKind {
			continue
		}
		if ks.Namespace == "" {
			ks.Namespace = b.g.namespace
		}
		if ks.Name == name {
			return &ks, nil
		}
		found = append(found, &ks)
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return nil, fmt.Errorf("kustomization file %q has no Kustomization named %q", b.f.kustomizationFile, name)
}

// build builds the Kustomization name from --path (with --recursive, and the Kustomizations
// its build produces).
func (b *ksBuilder) build(ctx context.Context, name string) (*kustomizev1.Kustomization, []*unstructured.Unstructured, error) {
	ks, err := b.kustomization(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	root := repoRoot(b.f.path)
	if dir, ok := b.localSource(ks); ok {
		root = dir
	}
	rel, err := filepath.Rel(root, b.f.path)
	if err != nil || strings.HasPrefix(rel, "..") {
		root, rel = b.f.path, "."
	}
	objs, err := b.buildOne(ctx, ks, root, "./"+filepath.ToSlash(rel))
	if err != nil {
		return nil, nil, err
	}
	if b.f.recursive {
		if objs, err = b.recurse(ctx, ks, root, objs, 0); err != nil {
			return nil, nil, err
		}
	}
	return ks, objs, nil
}

// localSource returns the --local-sources directory of ks's source.
func (b *ksBuilder) localSource(ks *kustomizev1.Kustomization) (string, bool) {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	dir, ok := b.f.localSources[ks.Spec.SourceRef.Kind+"/"+ns+"/"+ks.Spec.SourceRef.Name]
	if !ok {
		return "", false
	}
	abs, err := filepath.Abs(dir)
	return abs, err == nil
}

// buildOne runs the controller's pipeline for ks over path (relative to root).
func (b *ksBuilder) buildOne(ctx context.Context, ks *kustomizev1.Kustomization, root, path string) ([]*unstructured.Unstructured, error) {
	var decrypted []string
	p := build.Pipeline{Spec: &ks.Spec, Ignore: b.ignore, Decrypted: &decrypted}
	if pb := ks.Spec.PostBuild; pb != nil {
		if b.c == nil {
			p.Vars = build.Vars{Substitute: pb.Substitute, Strategy: pb.SubstituteStrategy, AllowUndefined: !b.f.strictSubstitute}
		} else {
			vars, err := kustomize.SubstitutionVars(ctx, b.c, ks, b.f.strictSubstitute)
			if err != nil {
				return nil, fmt.Errorf("build Kustomization %s/%s: %w", ks.Namespace, ks.Name, err)
			}
			p.Vars = vars
		}
	}
	if d := ks.Spec.Decryption; d != nil && d.SecretRef != nil && b.c != nil {
		// The keys of the decryption Secret, when this user may read them; without them
		// encrypted values stay encrypted (and print masked).
		var s corev1.Secret
		if err := b.c.Get(ctx, client.ObjectKey{Namespace: ks.Namespace, Name: d.SecretRef.Name}, &s); err == nil {
			dec, err := build.NewDecryptor(s.Data)
			if err != nil {
				return nil, fmt.Errorf("build Kustomization %s/%s: decryption Secret: %w", ks.Namespace, ks.Name, err)
			}
			p.Decryptor = dec
		}
	}
	objs, err := p.Run(ctx, root, path)
	for _, v := range decrypted {
		b.decrypted[v] = true
	}
	if err != nil {
		return nil, fmt.Errorf("build Kustomization %s/%s from %s: %w", ks.Namespace, ks.Name, path, err)
	}
	owner := apply.Owner{Name: ks.Name, Namespace: ks.Namespace}.Labels()
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range owner {
			labels[k] = v
		}
		o.SetLabels(labels)
	}
	return objs, nil
}

// maxRecursion bounds --recursive.
const maxRecursion = 32

// recurse appends the builds of the Kustomizations among objs: from the --local-sources
// directory of their source, or from root when they use the same source as parent.
func (b *ksBuilder) recurse(ctx context.Context, parent *kustomizev1.Kustomization, root string, objs []*unstructured.Unstructured, depth int) ([]*unstructured.Unstructured, error) {
	b.visited[parent.Namespace+"/"+parent.Name] = true
	out := objs
	for _, o := range objs {
		if o.GroupVersionKind().Group != kustomizev1.GroupVersion.Group || o.GetKind() != kustomizev1.KustomizationKind {
			continue
		}
		var child kustomizev1.Kustomization
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &child); err != nil {
			return nil, fmt.Errorf("read Kustomization %s: %w", subject(o), err)
		}
		if child.Namespace == "" {
			child.Namespace = parent.Namespace
		}
		if b.visited[child.Namespace+"/"+child.Name] {
			continue
		}
		if depth >= maxRecursion {
			return nil, fmt.Errorf("recursive build deeper than %d Kustomizations at %s", maxRecursion, subject(o))
		}
		childRoot, ok := b.localSource(&child)
		if !ok {
			if !sameSource(parent, &child) {
				fmt.Fprintf(b.g.errOut, "✗ skipping Kustomization %s/%s: no --local-sources entry for its source %s\n",
					child.Namespace, child.Name, sourceKey(&child))
				continue
			}
			childRoot = root
		}
		built, err := b.buildOne(ctx, &child, childRoot, "./"+strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+child.Spec.Path)), "/"))
		if err != nil {
			return nil, err
		}
		if built, err = b.recurse(ctx, &child, childRoot, built, depth+1); err != nil {
			return nil, err
		}
		out = append(out, built...)
	}
	return out, nil
}

// repoRoot is the nearest ancestor of dir holding .git, so that ../bases resolve; dir itself
// when there is none.
func repoRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

func sourceKey(ks *kustomizev1.Kustomization) string {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	return ks.Spec.SourceRef.Kind + "/" + ns + "/" + ks.Spec.SourceRef.Name
}

func sameSource(a, b *kustomizev1.Kustomization) bool { return sourceKey(a) == sourceKey(b) }

// sopsMask replaces SOPS-protected values in printed Secrets, as flux build prints them.
const sopsMask = "**SOPS**"

// maskSecret hides the values of a Secret that SOPS decrypted, or that are still encrypted.
func maskSecret(o *unstructured.Unstructured, decrypted map[string]bool) *unstructured.Unstructured {
	if o.GetKind() != "Secret" || o.GroupVersionKind().Group != "" {
		return o
	}
	out := o.DeepCopy()
	// Still encrypted (no keys): its SOPS metadata goes with its values.
	delete(out.Object, "sops")
	protected := func(plain string) bool {
		return decrypted[plain] || strings.Contains(plain, "ENC[AES256_GCM,")
	}
	if data, ok := out.Object["data"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			plain, err := base64.StdEncoding.DecodeString(s)
			if err == nil && protected(string(plain)) {
				data[k] = base64.StdEncoding.EncodeToString([]byte(sopsMask))
			}
		}
	}
	if data, ok := out.Object["stringData"].(map[string]any); ok {
		for k, v := range data {
			if s, ok := v.(string); ok && protected(s) {
				data[k] = sopsMask
			}
		}
	}
	return out
}

func newDiffCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "diff", Short: "Diff a flux resource"}
	var f ksBuildFlags
	ks := &cobra.Command{
		Use:     "kustomization [name]",
		Aliases: []string{"ks"},
		Short:   "Diff Kustomization",
		Long: "The diff kustomization command builds the local directory as the Kustomization would, " +
			"compares it with the cluster through a server-side dry run and lists what would be pruned. " +
			"The exit code is 1 when there are differences, 0 when there are none and 2 when the diff failed.",
		Example: `  # Preview the changes of a local checkout
  weir diff kustomization apps --path ./clusters/prod/apps`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			if f.dryRun {
				return &exitError{code: 2, msg: "diff compares with the cluster: --dry-run is not supported"}
			}
			// As diff(1): 1 means differences, 2 means the comparison itself failed.
			b, err := newKsBuilder(g, f)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			ks, objs, err := b.build(ctx, args[0])
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			return diffExit(diffKustomization(ctx, g, b.c, ks, objs))
		},
	}
	f.add(ks, "path to a local directory that matches the specified Kustomization.spec.path")
	ks.Flags().BoolVar(&f.progressBar, "progress-bar", true, "accepted for flux's scripts: weir prints no progress bar")
	cmd.AddCommand(ks, newDiffArtifactCommand(g), newDiffHelmReleaseCommand(g))
	return cmd
}

// diffKustomization prints what applying objs would change, and what prune would delete.
func diffKustomization(ctx context.Context, g *globals, c client.Client, ks *kustomizev1.Kustomization, objs []*unstructured.Unstructured) (bool, error) {
	m := apply.NewManager(c, apply.Options{Owner: apply.Owner{Name: ks.Name, Namespace: ks.Namespace}})
	entries, diffErr := m.Diff(ctx, objs, apply.ApplyOptions{Force: ks.Spec.Force})
	changed := printDiffEntries(g, entries)
	if ks.Spec.Prune && ks.Status.Inventory != nil {
		stale, err := apply.Stale(ks.Status.Inventory, apply.InventoryOf(objs))
		if err != nil {
			return changed, fmt.Errorf("read inventory of kustomization %s/%s: %w", ks.Namespace, ks.Name, err)
		}
		owner := m.OwnerLabels()
		for _, s := range stale {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(s.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), live); err != nil {
				continue // gone already, or not readable: nothing to prune
			}
			if apply.PruneDisabled(live) || apply.ReconcileDisabled(live) || !hasLabels(live, owner) {
				continue
			}
			changed = true
			fmt.Fprintf(g.out, "► %s deleted\n", subject(live))
		}
	}
	if diffErr != nil {
		return changed, fmt.Errorf("diff Kustomization %s/%s: %w", ks.Namespace, ks.Name, diffErr)
	}
	return changed, nil
}

// printDiffEntries prints the created and drifted objects of a diff, Secret values hidden, and
// reports whether there were any.
func printDiffEntries(g *globals, entries []apply.DiffEntry) bool {
	changed := false
	for _, e := range entries {
		switch e.Action {
		case apply.Created:
			changed = true
			fmt.Fprintf(g.out, "✚ %s created\n", e.Subject)
		case apply.Configured:
			changed = true
			fmt.Fprintf(g.out, "► %s drifted\n", e.Subject)
			if e.ObjMetadata.Kind == "Secret" && e.ObjMetadata.Group == "" {
				fmt.Fprintln(g.out, "  (the values of a Secret are not shown)")
				continue
			}
			if d := strings.TrimRight(e.Diff, "\n"); d != "" {
				fmt.Fprintln(g.out, d)
			}
		}
	}
	return changed
}

func hasLabels(u *unstructured.Unstructured, want map[string]string) bool {
	l := u.GetLabels()
	for k, v := range want {
		if l[k] != v {
			return false
		}
	}
	return true
}

// subject names an object as Flux's change sets do: Kind/namespace/name.
func subject(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}
