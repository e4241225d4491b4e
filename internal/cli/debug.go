package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/controller/helmrelease"
	"github.com/weirgitops/weir/internal/controller/kustomize"
)

func newDebugCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "debug",
		Short: "Debug a flux resource",
		Long: "The debug sub-commands print what the controllers see of a HelmRelease or a Kustomization: its status " +
			"(and its source's), the final values of a Helm release, the post-build variables of a Kustomization. " +
			"Values read from Secrets are masked unless --show-secrets is set.",
	}
	cmd.AddCommand(newDebugHelmReleaseCommand(g), newDebugKustomizationCommand(g))
	return cmd
}

// exactlyOne checks that one and only one of the named flags is set.
func exactlyOne(names []string, set ...bool) error {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("exactly one of --%s must be set", joinFlags(names))
	}
	return nil
}

func joinFlags(names []string) string {
	out := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			out += " or --"
		default:
			out += ", --"
		}
		out += n
	}
	return out
}

func writeYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	_, err = w.Write(data)
	return err
}

// sourceStatus prints the status of the object ref names (kind, namespace, name), as a comment
// header and YAML.
func sourceStatus(ctx context.Context, c client.Client, w io.Writer, gv schema.GroupVersion, kind, namespace, name string) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gv.WithKind(kind))
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		return fmt.Errorf("get %s %s/%s: %w", kind, namespace, name, err)
	}
	fmt.Fprintf(w, "---\n# Status of %s %s/%s\n", kind, namespace, name)
	return writeYAML(w, map[string]any{"status": u.Object["status"]})
}

func newDebugHelmReleaseCommand(g *globals) *cobra.Command {
	var showStatus, showValues, showHistory, showSecrets bool
	cmd := &cobra.Command{
		Use:     "helmrelease [name]",
		Aliases: []string{"hr"},
		Short:   "Debug a HelmRelease resource",
		Long: "The debug helmrelease command prints the status of a HelmRelease and of its chart source (--show-status), " +
			"the final values composed from spec.values and the ConfigMaps and Secrets of spec.valuesFrom exactly as the " +
			"controller composes them (--show-values), or its release history (--show-history). Values from Secrets are " +
			"masked unless --show-secrets is set.",
		Example: `  # Print the status of a Helm release
  weir debug hr podinfo -n apps --show-status

  # Export the final values of a Helm release composed from referred ConfigMaps and Secrets
  weir debug hr podinfo -n apps --show-values > values.yaml

  # Print the release history
  weir debug hr podinfo -n apps --show-history`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := exactlyOne([]string{"show-status", "show-values", "show-history"}, showStatus, showValues, showHistory); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			var hr helmv2.HelmRelease
			if err := c.Get(ctx, client.ObjectKey{Namespace: g.namespace, Name: args[0]}, &hr); err != nil {
				return fmt.Errorf("get HelmRelease %s/%s: %w", g.namespace, args[0], err)
			}
			switch {
			case showValues:
				values, err := helmrelease.ComposeValues(ctx, c, &hr, !showSecrets)
				if err != nil {
					return fmt.Errorf("compose the values of HelmRelease %s/%s: %w", hr.Namespace, hr.Name, err)
				}
				return writeYAML(g.out, values)
			case showHistory:
				return writeYAML(g.out, hr.Status.History)
			}
			fmt.Fprintf(g.out, "# Status of HelmRelease %s/%s\n", hr.Namespace, hr.Name)
			if err := writeYAML(g.out, map[string]any{"status": hr.Status}); err != nil {
				return err
			}
			switch {
			case hr.HasChartRef():
				ns := hr.Spec.ChartRef.Namespace
				if ns == "" {
					ns = hr.Namespace
				}
				return sourceStatus(ctx, c, g.out, sourceGV, hr.Spec.ChartRef.Kind, ns, hr.Spec.ChartRef.Name)
			case hr.Status.HelmChart != "":
				ns, name, _ := cutKey(hr.Status.HelmChart)
				return sourceStatus(ctx, c, g.out, sourceGV, "HelmChart", ns, name)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&showStatus, "show-status", false, "print the status of the Helm release and of its chart source")
	fl.BoolVar(&showValues, "show-values", false, "print the final values of the Helm release")
	fl.BoolVar(&showHistory, "show-history", false, "print the reconciliation history of the Helm release")
	fl.BoolVar(&showSecrets, "show-secrets", false, "print values read from Secrets instead of masking them")
	return cmd
}

func newDebugKustomizationCommand(g *globals) *cobra.Command {
	var showStatus, showVars, showSecrets bool
	cmd := &cobra.Command{
		Use:     "kustomization [name]",
		Aliases: []string{"ks"},
		Short:   "Debug a Kustomization resource",
		Long: "The debug kustomization command prints the status of a Kustomization and of its source (--show-status) or " +
			"the post-build variables the controller substitutes, from spec.postBuild.substitute and the ConfigMaps and " +
			"Secrets of substituteFrom, in KEY=VALUE form (--show-vars). Values from Secrets are masked unless --show-secrets is set.",
		Example: `  # Print the status of a Kustomization
  weir debug ks podinfo -n apps --show-status

  # Print the post-build variables
  weir debug ks podinfo -n apps --show-vars`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := exactlyOne([]string{"show-status", "show-vars"}, showStatus, showVars); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			var ks kustomizev1.Kustomization
			if err := c.Get(ctx, client.ObjectKey{Namespace: g.namespace, Name: args[0]}, &ks); err != nil {
				return fmt.Errorf("get Kustomization %s/%s: %w", g.namespace, args[0], err)
			}
			if showVars {
				return printVars(ctx, c, g.out, &ks, showSecrets)
			}
			fmt.Fprintf(g.out, "# Status of Kustomization %s/%s\n", ks.Namespace, ks.Name)
			if err := writeYAML(g.out, map[string]any{"status": ks.Status}); err != nil {
				return err
			}
			ns := ks.Spec.SourceRef.Namespace
			if ns == "" {
				ns = ks.Namespace
			}
			return sourceStatus(ctx, c, g.out, sourceGV, ks.Spec.SourceRef.Kind, ns, ks.Spec.SourceRef.Name)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&showStatus, "show-status", false, "print the status of the Kustomization and of its source")
	fl.BoolVar(&showVars, "show-vars", false, "print the post-build substitution variables")
	fl.BoolVar(&showSecrets, "show-secrets", false, "print variables read from Secrets instead of masking them")
	return cmd
}

// printVars prints the Kustomization's post-build variables as KEY=VALUE, sorted.
func printVars(ctx context.Context, c client.Reader, w io.Writer, ks *kustomizev1.Kustomization, showSecrets bool) error {
	if ks.Spec.PostBuild == nil {
		return errors.New("the Kustomization has no spec.postBuild")
	}
	vars, err := kustomize.SubstitutionVars(ctx, c, ks, true)
	if err != nil {
		return err
	}
	if !showSecrets {
		for i := range vars.From {
			if vars.From[i].Kind != "Secret" {
				continue
			}
			for k := range vars.From[i].Data {
				vars.From[i].Data[k] = helmrelease.Masked
			}
		}
	}
	resolved, err := vars.Resolve()
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(resolved))
	for k := range resolved {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(w, "%s=%s\n", k, resolved[k]); err != nil {
			return err
		}
	}
	return nil
}

// cutKey splits "<namespace>/<name>".
func cutKey(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}
