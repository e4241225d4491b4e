package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/install"
)

// currentFluxVersion is the Flux minor version whose APIs weir's CRDs serve.
const currentFluxVersion = "2.9"

// fluxAPIVersions returns, for each Flux minor version `migrate --version` accepts (newest
// first), the latest API version of each Flux kind. The newest is read from weir's own CRDs
// (their storage versions); 2.8 and 2.7 serve the same versions; 2.6 differs in the image
// kinds, still at v1beta2.
func fluxAPIVersions() ([]string, map[string]map[schema.GroupKind]string, error) {
	objs, err := install.Objects(install.DefaultOptions())
	if err != nil {
		return nil, nil, err
	}
	current := map[schema.GroupKind]string{}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if storage, _ := m["storage"].(bool); storage {
				current[schema.GroupKind{Group: group, Kind: kind}], _ = m["name"].(string)
			}
		}
	}
	v26 := maps.Clone(current)
	for _, k := range []string{"ImageRepository", "ImagePolicy", "ImageUpdateAutomation"} {
		v26[schema.GroupKind{Group: "image.toolkit.fluxcd.io", Kind: k}] = "v1beta2"
	}
	order := []string{currentFluxVersion, "2.8", "2.7", "2.6"}
	return order, map[string]map[schema.GroupKind]string{
		currentFluxVersion: current, "2.8": current, "2.7": current, "2.6": v26,
	}, nil
}

func newMigrateCommand(g *globals) *cobra.Command {
	var path, version string
	var extensions []string
	var yes, dryRun bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Migrate the Flux custom resources to their latest API version",
		Long: `The migrate command rewrites Flux objects written with deprecated API versions; run it before a Flux
or weir minor upgrade.

- Cluster mode (default): every object of the Flux CRDs whose status.storedVersions lists an older
  version is re-written at the CRD's storage version (and its managed fields moved to it), then
  status.storedVersions is set to the storage version alone.
- File system mode (-f): the apiVersion of every Flux object in the manifests under the path is
  rewritten to the latest version; nothing else in the files changes.`,
		Example: `  # Migrate the Flux objects stored in the cluster
  weir migrate

  # Migrate the manifests of a Git repository checked out in the current directory
  weir migrate -f .

  # Show what would change without changing it
  weir migrate -f . --dry-run

  # Migrate YAML and Helm template files, to the API versions of Flux 2.6, without asking
  weir migrate -f . --extensions=.yml,.yaml,.tpl --version=2.6 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return migrateCluster(cmd.Context(), g, dryRun)
			}
			order, table, err := fluxAPIVersions()
			if err != nil {
				return err
			}
			if version == "" {
				version = order[0]
			}
			latest, ok := table[version]
			if !ok {
				return fmt.Errorf("version %s is not supported, supported versions are: %s", version, strings.Join(order, ", "))
			}
			return migrateFiles(g, path, extensions, latest, yes, dryRun)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&path, "path", "f", "", "the path to the directory (or the file) containing the manifests to migrate")
	fl.StringSliceVarP(&extensions, "extensions", "e", []string{".yaml", ".yml"}, "the file extensions to consider when migrating manifests, only applicable with --path")
	fl.StringVarP(&version, "version", "v", "", "the target Flux minor version to migrate manifests to, only applicable with --path (defaults to "+currentFluxVersion+", the version weir serves)")
	fl.BoolVarP(&yes, "yes", "y", false, "skip confirmation prompts when migrating manifests, only applicable with --path")
	fl.BoolVar(&dryRun, "dry-run", false, "print what would be migrated without making any changes")
	return cmd
}

// migrateFiles rewrites the manifests under path, after printing each change and asking.
func migrateFiles(g *globals, path string, extensions []string, latest map[schema.GroupKind]string, yes, dryRun bool) error {
	fmt.Fprintln(g.out, "► starting migration of custom resources")
	tree, err := openManifestTree(path, extensions)
	if err != nil {
		return err
	}
	defer func() { _ = tree.close() }()
	for _, p := range tree.skipped {
		fmt.Fprintf(g.errOut, "⚠ skipping irregular file %s\n", tree.name(p))
	}
	all, err := tree.detect(latest)
	if err != nil {
		return err
	}
	for _, fu := range all {
		for _, u := range fu.Upgrades {
			fmt.Fprintf(g.out, "✚ %s:%d: %s %s -> %s\n", tree.name(fu.Path), u.Line+1, u.Kind, u.From, u.To)
		}
	}
	if len(all) == 0 {
		fmt.Fprintln(g.out, "✔ no custom resources found that require migration")
		return nil
	}
	if dryRun {
		fmt.Fprintln(g.out, "✔ dry-run mode enabled, no changes will be made")
		return nil
	}
	if !yes {
		if !isTerminal(g.in) {
			return fmt.Errorf("migrate %s: stdin is not a terminal: use --yes to migrate without confirmation", path)
		}
		if !confirm(g, "Are you sure you want to proceed with the above upgrades") {
			return fmt.Errorf("migrate %s: aborted", path)
		}
	}
	for _, fu := range all {
		if err := tree.write(fu); err != nil {
			return err
		}
		fmt.Fprintf(g.out, "✔ file %s migrated successfully\n", tree.name(fu.Path))
	}
	fmt.Fprintln(g.out, "✔ custom resources migrated successfully")
	return nil
}

// isFluxCRD reports whether a CRD is one of Flux's API groups (*.fluxcd.io), whoever
// installed it: weir's CRDs carry no part-of label, Flux's carry app.kubernetes.io/part-of=flux.
func isFluxCRD(crd *apiextensionsv1.CustomResourceDefinition) bool {
	return strings.HasSuffix(crd.Spec.Group, ".fluxcd.io")
}

// storageVersion is the version a CRD's objects are written at.
func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}

// migrateCluster re-writes the objects of every Flux CRD that may still hold objects at an
// older version, then records that only the storage version is stored.
func migrateCluster(ctx context.Context, g *globals, dryRun bool) error {
	fmt.Fprintln(g.out, "► starting migration of custom resources")
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	c, err := g.client()
	if err != nil {
		return err
	}
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds); err != nil {
		return fmt.Errorf("list CRDs: %w", err)
	}
	sort.Slice(crds.Items, func(i, j int) bool { return crds.Items[i].Name < crds.Items[j].Name })
	for i := range crds.Items {
		crd := &crds.Items[i]
		if !isFluxCRD(crd) {
			continue
		}
		version := storageVersion(crd)
		if version == "" {
			return fmt.Errorf("no storage version found for CRD %s", crd.Name)
		}
		// storedVersions lists every version an object may still be stored at: when it is the
		// storage version alone, there is nothing to re-write.
		if slices.Equal(crd.Status.StoredVersions, []string{version}) {
			continue
		}
		if err := migrateObjects(ctx, g, c, crd, version, dryRun); err != nil {
			return fmt.Errorf("migrate resources for CRD %s: %w", crd.Name, err)
		}
		if dryRun {
			fmt.Fprintf(g.out, "► %s would be migrated to storage version %s (stored versions: %s)\n",
				crd.Name, version, strings.Join(crd.Status.StoredVersions, ", "))
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var fresh apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, &fresh); err != nil {
				return err
			}
			fresh.Status.StoredVersions = []string{version}
			return c.Status().Update(ctx, &fresh)
		})
		if err != nil {
			return fmt.Errorf("update CRD %s status: %w", crd.Name, err)
		}
		fmt.Fprintf(g.out, "✔ %s migrated to storage version %s\n", crd.Name, version)
	}
	if dryRun {
		fmt.Fprintln(g.out, "✔ dry-run mode enabled, no changes were made")
		return nil
	}
	fmt.Fprintln(g.out, "✔ custom resources migrated successfully")
	return nil
}

// migrateObjects re-writes every object of a CRD at version: a patch that changes nothing but
// the managed fields' apiVersion makes the API server store the object again, encoded at the
// storage version.
func migrateObjects(ctx context.Context, g *globals, c client.Client, crd *apiextensionsv1.CustomResourceDefinition, version string, dryRun bool) error {
	gv := schema.GroupVersion{Group: crd.Spec.Group, Version: version}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gv.WithKind(crd.Spec.Names.ListKind))
	if err := c.List(ctx, list); err != nil {
		return fmt.Errorf("list %s: %w", crd.Spec.Names.Kind, err)
	}
	for i := range list.Items {
		item := &list.Items[i]
		ref := fmt.Sprintf("%s/%s/%s", item.GetKind(), item.GetNamespace(), item.GetName())
		if dryRun {
			fmt.Fprintf(g.out, "► %s would be migrated to version %s\n", ref, version)
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			patch, err := migrationPatch(item, gv.String())
			if err != nil {
				return err
			}
			if err := c.Patch(ctx, item, client.RawPatch(types.MergePatchType, patch)); err != nil {
				if apierrors.IsConflict(err) {
					// Someone wrote the object meanwhile: read it again and re-make the patch.
					if gerr := c.Get(ctx, client.ObjectKeyFromObject(item), item); gerr != nil {
						return gerr
					}
				}
				return err
			}
			return nil
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("migrate %s: %w", ref, err)
		}
		fmt.Fprintf(g.out, "✔ %s migrated to version %s\n", ref, version)
	}
	return nil
}

// migrationPatch is the merge patch that re-writes obj: `{}` when its managed fields are all
// at apiVersion, else the managed fields moved to apiVersion, guarded by the object's
// resourceVersion so that a concurrent change is a conflict instead of lost.
func migrationPatch(obj *unstructured.Unstructured, apiVersion string) ([]byte, error) {
	fields := obj.GetManagedFields()
	changed := false
	for i := range fields {
		if fields[i].APIVersion != "" && fields[i].APIVersion != apiVersion {
			fields[i].APIVersion = apiVersion
			changed = true
		}
	}
	if !changed {
		return []byte("{}"), nil
	}
	patch := map[string]any{"metadata": map[string]any{
		"resourceVersion": obj.GetResourceVersion(),
		"managedFields":   fields,
	}}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encode migration patch: %w", err)
	}
	return data, nil
}
