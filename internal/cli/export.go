package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// lastAppliedAnnotation is kubectl's client-side apply record, never exported.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

func newExportCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export resources in YAML format",
		Long:  "The export sub-commands print existing objects as clean YAML: no status and no server-set metadata.",
	}
	var all, withCredentials bool
	cmd.PersistentFlags().BoolVar(&all, "all", false, "select all resources")
	addNouns(cmd, suspendKinds, func(k *fluxKind) *cobra.Command {
		c := &cobra.Command{
			Use:   k.Use + " [name]",
			Short: fmt.Sprintf("Export %s resources in YAML format", k.Kind),
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if all == (len(args) == 1) {
					return fmt.Errorf("name is required, or --all")
				}
				c, err := g.client()
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
				defer cancel()
				var objs []*unstructured.Unstructured
				if all {
					if objs, err = listKind(ctx, c, k, g.namespace, false, "", ""); err != nil {
						return err
					}
				} else {
					o, err := getObject(ctx, c, k, g.namespace, args[0])
					if err != nil {
						return err
					}
					objs = append(objs, o)
				}
				var docs []map[string]any
				for _, o := range objs {
					if withCredentials {
						s, err := exportSecretOf(ctx, c, o)
						if err != nil {
							return err
						}
						if s != nil {
							docs = append(docs, s)
						}
					}
					docs = append(docs, cleanObject(o))
				}
				return printYAMLDocs(g.out, docs)
			},
		}
		if k.GV == sourceGV || k == imageRepoKind {
			c.Flags().BoolVar(&withCredentials, "with-credentials", false, "include credential secrets")
		}
		return c
	})
	return cmd
}

// cleanObject keeps what a user declares: apiVersion, kind, name, namespace, labels,
// annotations (without kubectl's last-applied record) and everything but status.
func cleanObject(o *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range o.Object {
		if k != "status" && k != "metadata" {
			out[k] = v
		}
	}
	md := map[string]any{"name": o.GetName()}
	if ns := o.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	if l := o.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	ann := o.GetAnnotations()
	delete(ann, lastAppliedAnnotation)
	if len(ann) > 0 {
		md["annotations"] = ann
	}
	out["metadata"] = md
	return out
}

// exportSecretOf returns the Secret named by spec.secretRef, cleaned, or nil without one.
func exportSecretOf(ctx context.Context, c client.Client, o *unstructured.Unstructured) (map[string]any, error) {
	name, _, _ := unstructured.NestedString(o.Object, "spec", "secretRef", "name")
	if name == "" {
		return nil, nil
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: name}, &s); err != nil {
		return nil, fmt.Errorf("get secret %s/%s of %s %s: %w", o.GetNamespace(), name, o.GetKind(), o.GetName(), err)
	}
	m, err := toMap(&s, corev1.SchemeGroupVersion.WithKind("Secret"))
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	return cleanObject(u), nil
}
