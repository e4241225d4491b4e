package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weirgitops/weir/internal/install"
)

func newInstallCommand(g *globals) *cobra.Command {
	o := install.DefaultOptions()
	var export, wait bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install weir (CRDs, controller, RBAC, Services) or print the manifests with --export",
		Example: `  # Print the install manifests
  weir install --export > weir.yaml

  # Apply them to the current cluster and wait for the controller
  weir install`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Namespace = g.namespace
			if export {
				data, err := install.Render(o)
				if err != nil {
					return err
				}
				_, err = g.out.Write(data)
				return err
			}
			objs, err := install.Objects(o)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			fmt.Fprintf(g.out, "► applying %d objects to namespace %s\n", len(objs), o.Namespace)
			crds, rest := splitCRDs(objs)
			if err := install.Apply(ctx, c, crds); err != nil {
				return err
			}
			if err := install.WaitCRDs(ctx, c, crds); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "✔ %d CustomResourceDefinitions established\n", len(crds))
			if err := install.Apply(ctx, c, rest); err != nil {
				return err
			}
			fmt.Fprintln(g.out, "✔ controller, RBAC and Services applied")
			if !wait {
				return nil
			}
			fmt.Fprintln(g.out, "◎ waiting for the weir Deployment to be available")
			if err := install.WaitDeployment(ctx, c, o.Namespace); err != nil {
				return err
			}
			fmt.Fprintln(g.out, "✔ install finished")
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&export, "export", false, "print the install manifests instead of applying them")
	f.BoolVar(&wait, "wait", true, "wait for the controller Deployment to be available")
	f.StringVar(&o.Registry, "registry", o.Registry, "container registry the weir image is pulled from")
	f.StringVarP(&o.Version, "version", "v", o.Version, "weir version (image tag) to install")
	f.BoolVar(&o.WatchAllNamespaces, "watch-all-namespaces", o.WatchAllNamespaces, "watch objects in all namespaces; false restricts weir to its own namespace")
	f.BoolVar(&o.NetworkPolicy, "network-policy", o.NetworkPolicy, "deny ingress from other namespaces except to the webhook receiver and metrics")
	f.StringVar(&o.LogLevel, "log-level", o.LogLevel, "controller log level: debug, info, error")
	f.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "the cluster's DNS domain")
	f.BoolVar(&o.UI, "ui", o.UI, "serve the web UI on port 9080 behind the weir-ui Service (sign in with a Kubernetes token or OIDC: see docs/ui.md)")
	f.BoolVar(&o.ClusterReconciler, "cluster-reconciler", o.ClusterReconciler, "bind cluster-admin to weir's service account so that it may apply any kind")
	return cmd
}

func newUninstallCommand(g *globals) *cobra.Command {
	o := install.UninstallOptions{}
	var silent bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove weir and its CRDs without deleting what Kustomizations and HelmReleases manage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Namespace = g.namespace
			o.Out = g.out
			if !silent && !o.DryRun && isTerminal(g.in) {
				if !confirm(g, fmt.Sprintf("Are you sure you want to delete weir and its custom resource definitions from namespace %s", o.Namespace)) {
					return &exitError{code: 1, msg: "uninstall cancelled"}
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			if err := install.Uninstall(ctx, c, o); err != nil {
				return err
			}
			fmt.Fprintln(g.out, "✔ uninstall finished")
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.KeepNamespace, "keep-namespace", false, "keep the namespace after removing weir")
	f.BoolVar(&o.DryRun, "dry-run", false, "only print what would be removed")
	f.BoolVarP(&silent, "silent", "s", false, "delete without asking for confirmation")
	return cmd
}

func splitCRDs(objs []*unstructured.Unstructured) (crds, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	return crds, rest
}

// isTerminal reports whether r is an interactive terminal, the only case in which the CLI
// asks a question.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks a yes/no question and reports whether the answer was yes.
func confirm(g *globals, question string) bool {
	fmt.Fprintf(g.out, "%s? [y/N] ", question)
	line, _ := bufio.NewReader(g.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
