package cli

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// tenantLabel marks the objects of one tenant, as flux labels them.
const tenantLabel = "toolkit.fluxcd.io/tenant"

func createTenantCommand(g *globals, f *createFlags) *cobra.Command {
	var namespaces []string
	var clusterRole string
	cmd := &cobra.Command{
		Use:   "tenant [name]",
		Short: "Create or update a tenant",
		Long: "The create tenant command makes, in each of the tenant's namespaces, the Namespace, a ServiceAccount named " +
			"after the tenant and a RoleBinding <tenant>-reconciler that binds the cluster role to that account and to " +
			"the user gotk:<namespace>:reconciler, so that Kustomizations and HelmReleases of the tenant can be limited to them.",
		Example: `  # A tenant with access to one namespace
  weir create tenant dev-team --with-namespace=frontend --label=environment=dev

  # The tenant's objects as YAML
  weir create tenant dev-team --with-namespace=frontend --with-namespace=backend --export > dev-team.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := tenantObjects(args[0], namespaces, clusterRole, f.labels)
			if err != nil {
				return err
			}
			if f.export {
				return printYAMLDocs(g.out, docs)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			for _, d := range docs {
				if err := applyTenantObject(ctx, g, c, d); err != nil {
					return err
				}
			}
			fmt.Fprintln(g.out, "✔ tenant setup completed")
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&namespaces, "with-namespace", nil, "namespace belonging to this tenant")
	cmd.Flags().StringVar(&clusterRole, "cluster-role", "cluster-admin", "cluster role of the tenant role binding")
	return cmd
}

// tenantObjects returns, for each namespace in order, the Namespace, the ServiceAccount and the
// RoleBinding of the tenant, each labelled with --label and the tenant label.
func tenantObjects(tenant string, namespaces []string, clusterRole string, labelFlags []string) ([]map[string]any, error) {
	if errs := validation.IsQualifiedName(tenant); len(errs) > 0 {
		return nil, fmt.Errorf("invalid tenant name '%s': %s", tenant, strings.Join(errs, "; "))
	}
	if clusterRole == "" {
		return nil, fmt.Errorf("cluster-role is required")
	}
	if len(namespaces) == 0 {
		return nil, fmt.Errorf("with-namespace is required")
	}
	labels, err := parseLabelFlags(labelFlags)
	if err != nil {
		return nil, err
	}
	labels[tenantLabel] = tenant
	meta := func(name, ns string) map[string]any {
		m := map[string]any{"name": name, "labels": maps.Clone(labels)}
		if ns != "" {
			m["namespace"] = ns
		}
		return m
	}
	var docs []map[string]any
	for _, ns := range namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("invalid namespace '%s': %s", ns, strings.Join(errs, "; "))
		}
		docs = append(docs,
			map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, "")},
			map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(tenant, ns)},
			map[string]any{
				"apiVersion": rbacv1.SchemeGroupVersion.String(), "kind": "RoleBinding",
				"metadata": meta(tenant+"-reconciler", ns),
				"roleRef":  map[string]any{"apiGroup": rbacv1.GroupName, "kind": "ClusterRole", "name": clusterRole},
				"subjects": []any{
					map[string]any{"apiGroup": rbacv1.GroupName, "kind": rbacv1.UserKind, "name": "gotk:" + ns + ":reconciler"},
					map[string]any{"kind": rbacv1.ServiceAccountKind, "name": tenant, "namespace": ns},
				},
			})
	}
	return docs, nil
}

// parseLabelFlags parses --label key=value flags.
func parseLabelFlags(flags []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, l := range flags {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid label format '%s', must be key=value", l)
		}
		labels[k] = v
	}
	return labels, nil
}

// applyTenantObject server-side applies one tenant object. A RoleBinding whose roleRef changed
// is deleted first: the API server does not let roleRef change.
func applyTenantObject(ctx context.Context, g *globals, c client.Client, m map[string]any) error {
	md := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	what := map[string]string{"Namespace": "namespace", "ServiceAccount": "service account", "RoleBinding": "role binding"}[m["kind"].(string)]
	fmt.Fprintf(g.out, "► applying %s %s\n", what, name)
	if m["kind"] == "RoleBinding" {
		var rb rbacv1.RoleBinding
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &rb)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("get role binding %s/%s: %w", ns, name, err)
		case rb.RoleRef.Name != m["roleRef"].(map[string]any)["name"] || rb.RoleRef.Kind != "ClusterRole":
			if err := c.Delete(ctx, &rb); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete role binding %s/%s to change its role: %w", ns, name, err)
			}
		}
	}
	return applyMap(ctx, c, m)
}
