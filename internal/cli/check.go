package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/health"
	"github.com/weirgitops/weir/internal/install"
)

// minKubernetesVersion is the oldest Kubernetes weir supports.
const minKubernetesVersion = "1.32.0"

// partOfLabel selects weir's Deployments, as app.kubernetes.io/part-of=flux selects Flux's.
const (
	partOfLabel = "app.kubernetes.io/part-of"
	partOfValue = "weir"
)

// checkFlags are `check`'s flags, named as flux's.
type checkFlags struct {
	pre             bool
	components      []string
	extraComponents []string
	pollInterval    time.Duration
}

func newCheckCommand(g *globals) *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check requirements and installation",
		Long: "The check command verifies the Kubernetes version (--pre stops there), then that weir's controller " +
			"Deployments in the namespace (app.kubernetes.io/part-of=weir) become ready within --timeout, and that " +
			"every CRD weir serves is installed and established.",
		Example: `  # Run pre-installation checks
  weir check --pre

  # Run installation checks
  weir check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			return runCheck(ctx, g, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.pre, "pre", false, "only run pre-installation checks")
	fl.StringSliceVar(&f.components, "components", []string{"weir"},
		"list of components, accepts comma-separated values (weir runs every controller in one Deployment; accepted for flux compatibility)")
	fl.StringSliceVar(&f.extraComponents, "components-extra", nil,
		"list of components in addition to those supplied or defaulted, accepts comma-separated values (accepted for flux compatibility)")
	fl.DurationVar(&f.pollInterval, "poll-interval", 5*time.Second,
		"how often the health checker should poll the cluster for the latest state of the resources")
	return cmd
}

func runCheck(ctx context.Context, g *globals, f *checkFlags) error {
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
	if f.pre {
		if failed {
			return &exitError{code: 1, msg: "prerequisites checks failed"}
		}
		fmt.Fprintln(g.out, "✔ prerequisites checks passed")
		return nil
	}
	fmt.Fprintln(g.out, "► checking version in cluster")
	if !checkClusterVersion(ctx, g, c) {
		failed = true
	}
	fmt.Fprintln(g.out, "► checking controllers")
	if !checkControllers(ctx, g, c, f.pollInterval) {
		failed = true
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
		return fmt.Errorf("kubernetes API call failed: %w", err)
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return fmt.Errorf("kubernetes version can't be determined from %q: %w", info.GitVersion, err)
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

// bootstrapLabels are the labels a Kustomization sets on what it applies: on weir's CRDs they
// say weir is managed from Git (flux's "bootstrapped").
var bootstrapLabels = []string{"kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace"}

// checkClusterVersion reports the installed distribution (weir's version, from its
// Deployment) and whether the install is managed by a Kustomization.
func checkClusterVersion(ctx context.Context, g *globals, c client.Client) bool {
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	if err := c.Get(ctx, client.ObjectKey{Name: "gitrepositories.source.toolkit.fluxcd.io"}, crd); err != nil {
		fmt.Fprintf(g.out, "✗ checking failed: %v\n", err)
		return false
	}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(g.namespace), client.MatchingLabels{partOfLabel: partOfValue}); err == nil {
		for _, d := range deps.Items {
			if v := d.Labels["app.kubernetes.io/version"]; v != "" {
				fmt.Fprintf(g.out, "✔ distribution: weir-%s\n", v)
				break
			}
		}
	}
	bootstrapped := false
	for _, l := range bootstrapLabels {
		if _, ok := crd.Labels[l]; ok {
			bootstrapped = true
		}
	}
	fmt.Fprintf(g.out, "✔ bootstrapped: %t\n", bootstrapped)
	return true
}

// checkControllers waits, polling every interval until the context ends, for each of weir's
// Deployments in the namespace to be ready, and prints their images.
func checkControllers(ctx context.Context, g *globals, c client.Client, interval time.Duration) bool {
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(g.namespace), client.MatchingLabels{partOfLabel: partOfValue}); err != nil {
		fmt.Fprintf(g.out, "✗ list deployments in %s: %v\n", g.namespace, err)
		return false
	}
	if len(deps.Items) == 0 {
		fmt.Fprintf(g.out, "✗ no controllers found in the '%s' namespace with the label selector '%s=%s'\n",
			g.namespace, partOfLabel, partOfValue)
		return false
	}
	ok := true
	for i := range deps.Items {
		d := &deps.Items[i]
		if err := waitDeploymentReady(ctx, c, d, interval); err != nil {
			fmt.Fprintf(g.out, "✗ %s: deployment not ready: %v\n", d.Name, err)
			ok = false
		} else {
			fmt.Fprintf(g.out, "✔ %s: deployment ready\n", d.Name)
		}
		for _, ctr := range d.Spec.Template.Spec.Containers {
			fmt.Fprintf(g.out, "► %s\n", ctr.Image)
		}
	}
	return ok
}

// waitDeploymentReady polls a Deployment until kstatus says it is Current, it failed, or the
// context ends.
func waitDeploymentReady(ctx context.Context, c client.Client, d *appsv1.Deployment, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	for {
		res, err := deploymentStatus(d)
		switch {
		case err != nil:
			return err
		case res.Status == health.Current:
			return nil
		case res.Status == health.Failed:
			return errors.New(res.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", res.Message, ctx.Err())
		case <-time.After(interval):
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
	}
}

func deploymentStatus(d *appsv1.Deployment) (health.Result, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		return health.Result{}, fmt.Errorf("convert deployment %s: %w", d.Name, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	return health.Status(u)
}

// checkCRDs reports each CRD weir serves: installed, established, at which stored version.
func checkCRDs(ctx context.Context, g *globals, c client.Client) bool {
	objs, err := install.Objects(install.DefaultOptions())
	if err != nil {
		fmt.Fprintf(g.out, "✗ %v\n", err)
		return false
	}
	// In name order, as the API server lists them to flux.
	sort.Slice(objs, func(i, j int) bool { return objs[i].GetName() < objs[j].GetName() })
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
		versions := crd.Status.StoredVersions
		switch {
		case !established:
			fmt.Fprintf(g.out, "✗ %s: not established\n", crd.Name)
			ok = false
		case len(versions) == 0:
			fmt.Fprintf(g.out, "✗ no stored versions for %s\n", crd.Name)
			ok = false
		default:
			fmt.Fprintf(g.out, "✔ %s/%s\n", crd.Name, versions[len(versions)-1])
		}
	}
	return ok
}
