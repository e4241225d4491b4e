package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/spf13/cobra"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// dependsOn turns "<name>" and "<namespace>/<name>" into dependency references.
func dependsOn(deps []string) []meta.DependencyReference {
	var out []meta.DependencyReference
	for _, d := range deps {
		ns, name, ok := strings.Cut(d, "/")
		if !ok {
			ns, name = "", d
		}
		out = append(out, meta.DependencyReference{Namespace: ns, Name: name})
	}
	return out
}

func createKustomizationCommand(g *globals, f *createFlags) *cobra.Command {
	var source, path, targetNS, sa, decryptionProvider, decryptionSecret string
	var prune, wait bool
	var deps, checks []string
	var healthTimeout, retry time.Duration
	cmd := &cobra.Command{
		Use:     "kustomization [name]",
		Aliases: []string{"ks"},
		Short:   "Create or update a Kustomization resource",
		Example: `  # Create a Kustomization from a GitRepository and print it
  weir create kustomization apps --source=GitRepository/podinfo --path="./kustomize" --prune=true --export`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return fmt.Errorf("path is required")
			}
			if !strings.HasPrefix(path, "./") {
				return fmt.Errorf("path must begin with ./")
			}
			if source == "" {
				return fmt.Errorf("source is required")
			}
			kind, name, ns, err := parseKindRef(source, "GitRepository", []string{"GitRepository", "OCIRepository", "Bucket"})
			if err != nil {
				return err
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			ks := &kustomizev1.Kustomization{ObjectMeta: om, Spec: kustomizev1.KustomizationSpec{
				DependsOn: dependsOn(deps), Interval: metav1.Duration{Duration: f.interval}, Path: path, Prune: prune,
				SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: name, Namespace: ns},
				TargetNamespace: targetNS, ServiceAccountName: sa,
			}}
			if len(checks) > 0 && !wait {
				for _, c := range checks {
					kind, rest, ok := strings.Cut(c, "/")
					i := strings.LastIndex(rest, ".")
					if !ok || i <= 0 {
						return fmt.Errorf("invalid health check '%s' must be in the format 'kind/name.namespace'", c)
					}
					ref := meta.NamespacedObjectKindReference{Kind: kind, Name: rest[:i], Namespace: rest[i+1:]}
					switch kind {
					case "HelmRelease":
						ref.APIVersion = helmGV.String()
					case "Kustomization":
						ref.APIVersion = kustomizeGV.String()
					}
					ks.Spec.HealthChecks = append(ks.Spec.HealthChecks, ref)
				}
				ks.Spec.Timeout = &metav1.Duration{Duration: healthTimeout}
			}
			if wait {
				ks.Spec.Wait = true
				ks.Spec.Timeout = &metav1.Duration{Duration: healthTimeout}
			}
			if decryptionProvider != "" {
				ks.Spec.Decryption = &kustomizev1.Decryption{Provider: decryptionProvider, SecretRef: secretRef(decryptionSecret)}
			}
			if retry > 0 {
				ks.Spec.RetryInterval = &metav1.Duration{Duration: retry}
			}
			return emit(cmd, g, f, ks, ksKind.GVK(), "Kustomization", ksKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&source, "source", "", "source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: (GitRepository, OCIRepository, Bucket), if kind is not specified it defaults to GitRepository")
	fl.StringVar(&path, "path", "./", "path to the directory containing a kustomization.yaml file")
	fl.BoolVar(&prune, "prune", false, "enable garbage collection")
	fl.BoolVar(&wait, "wait", false, "enable health checking of all the applied resources")
	fl.StringSliceVar(&checks, "health-check", nil, "workload to be included in the health assessment, in the format '<kind>/<name>.<namespace>'")
	fl.DurationVar(&healthTimeout, "health-check-timeout", 2*time.Minute, "timeout of health checking operations")
	fl.StringSliceVar(&deps, "depends-on", nil, "Kustomization that must be ready before this Kustomization can be applied, supported formats '<name>' and '<namespace>/<name>'")
	fl.StringVar(&sa, "service-account", "", "the name of the service account to impersonate when reconciling this Kustomization")
	fl.StringVar(&decryptionProvider, "decryption-provider", "", "decryption provider, available options are: (sops)")
	fl.StringVar(&decryptionSecret, "decryption-secret", "", "set the Kubernetes secret name that contains the OpenPGP private keys used for sops decryption")
	fl.StringVar(&targetNS, "target-namespace", "", "overrides the namespace of all Kustomization objects reconciled by this Kustomization")
	fl.DurationVar(&retry, "retry-interval", 0, "the interval at which to retry a previously failed reconciliation")
	return cmd
}

func createHelmReleaseCmdValues(files []string) (*apiextensionsv1.JSON, error) {
	values := map[string]any{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading values from %s failed: %w", file, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("converting values to JSON from %s failed: %w", file, err)
		}
		values = mergeMaps(values, m)
	}
	raw, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("marshaling values failed: %w", err)
	}
	return &apiextensionsv1.JSON{Raw: raw}, nil
}

// mergeMaps merges b into a, recursing into maps; b wins.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func createHelmReleaseCommand(g *globals, f *createFlags) *cobra.Command {
	var source, chart, chartRef, version, targetNS, releaseName, sa, strategy, crds, kubeconfigSecret string
	var deps, valueFiles, valuesFrom []string
	var createNS bool
	var chartInterval time.Duration
	cmd := &cobra.Command{
		Use:     "helmrelease [name]",
		Aliases: []string{"hr"},
		Short:   "Create or update a HelmRelease resource",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chart == "" && chartRef == "" {
				return fmt.Errorf("chart name or path is required, or --chart-ref")
			}
			if strategy != "Revision" && strategy != "ChartVersion" {
				return fmt.Errorf("'%s' is an invalid reconcile strategy(valid: Revision, ChartVersion)", strategy)
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			hr := &helmv2.HelmRelease{ObjectMeta: om, Spec: helmv2.HelmReleaseSpec{
				ReleaseName: releaseName, DependsOn: dependsOn(deps), Interval: metav1.Duration{Duration: f.interval},
				TargetNamespace: targetNS, ServiceAccountName: sa,
			}}
			if chartRef != "" {
				kind, name, ns, err := parseKindRef(chartRef, "", []string{"OCIRepository", "HelmChart", "ExternalArtifact"})
				if err != nil {
					return err
				}
				hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: kind, Name: name, Namespace: ns}
			} else {
				if source == "" {
					return fmt.Errorf("source is required")
				}
				kind, name, ns, err := parseKindRef(source, "", []string{"HelmRepository", "GitRepository", "Bucket"})
				if err != nil {
					return err
				}
				hr.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart: chart, Version: version, ReconcileStrategy: strategy,
					SourceRef: helmv2.CrossNamespaceObjectReference{Kind: kind, Name: name, Namespace: ns},
				}}
				if chartInterval > 0 {
					hr.Spec.Chart.Spec.Interval = &metav1.Duration{Duration: chartInterval}
				}
			}
			if createNS {
				hr.Spec.Install = &helmv2.Install{CreateNamespace: true}
			}
			if crds != "" {
				policy := helmv2.CRDsPolicy(crds)
				if policy != helmv2.Skip && policy != helmv2.Create && policy != helmv2.CreateReplace {
					return fmt.Errorf("'%s' is an invalid CRD policy (valid: Skip, Create, CreateReplace)", crds)
				}
				if hr.Spec.Install == nil {
					hr.Spec.Install = &helmv2.Install{}
				}
				hr.Spec.Install.CRDs = policy
				hr.Spec.Upgrade = &helmv2.Upgrade{CRDs: policy}
			}
			for _, v := range valuesFrom {
				kind, name, ok := strings.Cut(v, "/")
				if !ok || (kind != "Secret" && kind != "ConfigMap") || name == "" {
					return fmt.Errorf("invalid --values-from '%s': want Secret/<name> or ConfigMap/<name>", v)
				}
				hr.Spec.ValuesFrom = append(hr.Spec.ValuesFrom, helmv2.ValuesReference{Kind: kind, Name: name})
			}
			if kubeconfigSecret != "" {
				hr.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: kubeconfigSecret}}
			}
			if len(valueFiles) > 0 {
				if hr.Spec.Values, err = createHelmReleaseCmdValues(valueFiles); err != nil {
					return err
				}
			}
			return emit(cmd, g, f, hr, hrKind.GVK(), "HelmRelease", hrKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&releaseName, "release-name", "", "name used for the Helm release, defaults to a composition of '[<target-namespace>-]<HelmRelease-name>'")
	fl.StringVar(&source, "source", "", "source that contains the chart in the format '<kind>/<name>.<namespace>', where kind must be one of: (HelmRepository, GitRepository, Bucket)")
	fl.StringVar(&chart, "chart", "", "Helm chart name or path")
	fl.StringVar(&chartRef, "chart-ref", "", "Helm chart reference in the format '<kind>/<name>.<namespace>', where kind must be one of: (OCIRepository, HelmChart)")
	fl.StringVar(&version, "chart-version", "", "Helm chart version, accepts a semver range (ignored for charts from GitRepository sources)")
	fl.StringSliceVar(&deps, "depends-on", nil, "HelmReleases that must be ready before this release can be installed, supported formats '<name>' and '<namespace>/<name>'")
	fl.StringVar(&targetNS, "target-namespace", "", "namespace to install this release, defaults to the HelmRelease namespace")
	fl.BoolVar(&createNS, "create-target-namespace", false, "create the target namespace if it does not exist")
	fl.StringVar(&sa, "service-account", "", "the name of the service account to impersonate when reconciling this HelmRelease")
	fl.StringVar(&strategy, "reconcile-strategy", "ChartVersion", "the reconcile strategy for helm chart created by the helm release (accepted values: Revision and ChartVersion)")
	fl.DurationVar(&chartInterval, "chart-interval", 0, "the interval of which to check for new chart versions")
	fl.StringSliceVar(&valueFiles, "values", nil, "local path to values.yaml files, also accepts comma-separated values")
	fl.StringSliceVar(&valuesFrom, "values-from", nil, "a Kubernetes object reference that contains the values.yaml data key in the format '<kind>/<name>', where kind must be one of: (Secret,ConfigMap)")
	fl.StringVar(&crds, "crds", "", "upgrade CRDs policy, available options are: (Skip, Create, CreateReplace)")
	fl.StringVar(&kubeconfigSecret, "kubeconfig-secret-ref", "", "the name of the Kubernetes Secret that contains a key with the kubeconfig file for connecting to a remote cluster")
	return cmd
}
