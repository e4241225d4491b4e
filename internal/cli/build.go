package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/build"
)

func newBuildCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "build", Short: "Build a flux object"}
	var path string
	ks := &cobra.Command{
		Use:     "kustomization [name]",
		Aliases: []string{"ks"},
		Short:   "Build a Kustomization resource",
		Long: "The build kustomization command builds a local directory as the Kustomization in the cluster would: " +
			"with its patches, images, namespace and post-build substitutions from the cluster's ConfigMaps and Secrets.",
		Example: `  # Build the local manifests as they would be applied by the apps Kustomization
  weir build kustomization apps --path ./clusters/prod/apps`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			_, objs, err := buildKustomization(ctx, c, g.namespace, args[0], path)
			if err != nil {
				return err
			}
			docs := make([]map[string]any, 0, len(objs))
			for _, o := range objs {
				docs = append(docs, o.Object)
			}
			return printYAMLDocs(g.out, docs)
		},
	}
	ks.Flags().StringVar(&path, "path", "", "path to the manifests location")
	cmd.AddCommand(ks, newBuildArtifactCommand(g), newBuildHelmReleaseCommand(g))
	return cmd
}

// buildKustomization reads the Kustomization from the cluster and builds the local directory
// with its overrides, substitutions and owner labels.
func buildKustomization(ctx context.Context, c client.Client, ns, name, dir string) (*kustomizev1.Kustomization, []*unstructured.Unstructured, error) {
	if dir == "" {
		return nil, nil, fmt.Errorf("invalid resource path: --path is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid resource path %q: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, nil, fmt.Errorf("invalid resource path %q: not a directory", dir)
	}
	var ks kustomizev1.Kustomization
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ks); err != nil {
		return nil, nil, fmt.Errorf("get Kustomization %s/%s: %w", ns, name, err)
	}
	root := repoRoot(abs)
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, nil, err
	}
	objs, err := build.Build(ctx, root, "./"+filepath.ToSlash(rel), build.Options{Overrides: build.OverridesFromSpec(&ks.Spec)})
	if err != nil {
		return nil, nil, fmt.Errorf("build Kustomization %s/%s from %s: %w", ns, name, dir, err)
	}
	if pb := ks.Spec.PostBuild; pb != nil {
		vars := build.Vars{Substitute: pb.Substitute, Strategy: pb.SubstituteStrategy}
		for _, ref := range pb.SubstituteFrom {
			src, err := varSource(ctx, c, ns, ref)
			if err != nil {
				return nil, nil, fmt.Errorf("build kustomization %s/%s: %w", ns, name, err)
			}
			vars.From = append(vars.From, src)
		}
		if err := build.Substitute(objs, vars); err != nil {
			return nil, nil, fmt.Errorf("build kustomization %s/%s: substitute: %w", ns, name, err)
		}
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
	return &ks, objs, nil
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

// varSource fetches one postBuild.substituteFrom entry from the cluster.
func varSource(ctx context.Context, c client.Client, ns string, ref kustomizev1.SubstituteReference) (build.VarSource, error) {
	src := build.VarSource{Kind: ref.Kind, Name: ref.Name, Optional: ref.Optional, Data: map[string]string{}}
	key := client.ObjectKey{Namespace: ns, Name: ref.Name}
	var err error
	switch ref.Kind {
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err = c.Get(ctx, key, &cm); err == nil {
			for k, v := range cm.Data {
				src.Data[k] = v
			}
		}
	case "Secret":
		var s corev1.Secret
		if err = c.Get(ctx, key, &s); err == nil {
			for k, v := range s.Data {
				src.Data[k] = string(v)
			}
		}
	default:
		return src, fmt.Errorf("substituteFrom kind %q is not supported", ref.Kind)
	}
	switch {
	case err == nil:
		src.Found = true
	case apierrors.IsNotFound(err):
	default:
		return src, fmt.Errorf("get %s %s: %w", ref.Kind, key, err)
	}
	return src, nil
}

func newDiffCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "diff", Short: "Diff a flux resource"}
	var path string
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
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			// As diff(1): 1 means differences, 2 means the comparison itself failed.
			ks, objs, err := buildKustomization(ctx, c, g.namespace, args[0], path)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			return diffExit(diffKustomization(ctx, g, c, ks, objs))
		},
	}
	ks.Flags().StringVar(&path, "path", "", "path to a local directory that matches the specified Kustomization.spec.path")
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
