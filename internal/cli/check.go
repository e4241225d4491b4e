package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/install"
)

// minKubernetesVersion is the oldest Kubernetes weir supports.
const minKubernetesVersion = "1.32.0"

func newCheckCommand(g *globals) *cobra.Command {
	var pre bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check requirements and installation",
		Long: "The check command verifies the Kubernetes version and API access (--pre), " +
			"and that every weir CRD is established and the weir Deployment is available.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			fmt.Fprintln(g.out, "► checking prerequisites")
			c, err := g.client()
			if err != nil {
				return err
			}
			failed := false
			if err := checkKubernetes(ctx, g, c); err != nil {
				fmt.Fprintf(g.out, "✗ %v\n", err)
				failed = true
			}
			if failed {
				return &exitError{code: 1, msg: "prerequisites checks failed"}
			}
			fmt.Fprintln(g.out, "✔ prerequisites checks passed")
			if pre {
				return nil
			}
			fmt.Fprintln(g.out, "► checking controllers")
			if err := checkDeployment(ctx, c, g.namespace); err != nil {
				fmt.Fprintf(g.out, "✗ %v\n", err)
				failed = true
			} else {
				fmt.Fprintln(g.out, "✔ weir: deployment ready")
			}
			fmt.Fprintln(g.out, "► checking crds")
			if !checkCRDs(ctx, g, c) {
				failed = true
			}
			if failed {
				return &exitError{code: 1, msg: "check failed"}
			}
			fmt.Fprintln(g.out, "✔ all checks passed")
			return nil
		},
	}
	cmd.Flags().BoolVar(&pre, "pre", false, "only run pre-installation checks")
	return cmd
}

// checkKubernetes checks the server version and that the API answers a list.
func checkKubernetes(ctx context.Context, g *globals, c client.Client) error {
	cfg, err := g.restConfig()
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client initialization failed: %w", err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return fmt.Errorf("kubernetes API server unreachable: %w", err)
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return fmt.Errorf("parse kubernetes version %q: %w", info.GitVersion, err)
	}
	switch {
	case v.Major() == 0 && v.Minor() == 0:
		// A server built without version stamping (a development build) reports 0.0.0.
		fmt.Fprintf(g.out, "⚠ Kubernetes %s is a development build: version not checked\n", info.GitVersion)
	case !v.AtLeast(version.MustParseGeneric(minKubernetesVersion)):
		return fmt.Errorf("kubernetes version %s does not match >=%s-0", v, minKubernetesVersion)
	default:
		fmt.Fprintf(g.out, "✔ Kubernetes %s >=%s-0\n", v, minKubernetesVersion)
	}
	var ns corev1.NamespaceList
	if err := c.List(ctx, &ns, client.Limit(1)); err != nil {
		return fmt.Errorf("kubernetes API access failed: %w", err)
	}
	fmt.Fprintln(g.out, "✔ Kubernetes API access")
	return nil
}

func checkDeployment(ctx context.Context, c client.Client, ns string) error {
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "weir"}, &dep); err != nil {
		return fmt.Errorf("weir: get deployment %s/weir: %w", ns, err)
	}
	for _, cond := range dep.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue && dep.Status.AvailableReplicas > 0 {
			return nil
		}
	}
	return fmt.Errorf("weir: deployment %s/weir is not available", ns)
}

// checkCRDs reports each of weir's CRDs: installed, established, at which stored version.
func checkCRDs(ctx context.Context, g *globals, c client.Client) bool {
	objs, err := install.Objects(install.DefaultOptions())
	if err != nil {
		fmt.Fprintf(g.out, "✗ %v\n", err)
		return false
	}
	ok := true
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: o.GetName()}, &crd); err != nil {
			fmt.Fprintf(g.out, "✗ %s: %v\n", o.GetName(), err)
			ok = false
			continue
		}
		established := false
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			fmt.Fprintf(g.out, "✗ %s: not established\n", crd.Name)
			ok = false
			continue
		}
		fmt.Fprintf(g.out, "✔ %s/%s\n", crd.Name, strings.Join(crd.Status.StoredVersions, ","))
	}
	return ok
}
