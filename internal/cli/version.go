package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/version"
)

func newVersionCommand(g *globals) *cobra.Command {
	var clientOnly bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version and, with a cluster, the controller's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version.Get()
			res := map[string]string{
				"weir":      v.Version,
				"commit":    v.Commit,
				"go":        v.GoVersion,
				"client-go": v.ClientGoVersion,
			}
			order := []string{"weir", "commit", "go", "client-go"}
			if !clientOnly {
				if cv, err := controllerVersion(cmd.Context(), g); err == nil {
					res["controller"] = cv
					order = append(order, "controller")
				} else if g.verbose {
					fmt.Fprintf(g.errOut, "controller version: %v\n", err)
				}
			}
			switch output {
			case "json":
				enc := json.NewEncoder(g.out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			case "", "text", "yaml":
				// "key: value" lines: YAML, in a fixed order.
				for _, k := range order {
					fmt.Fprintf(g.out, "%s: %s\n", k, res[k])
				}
				return nil
			default:
				return fmt.Errorf("--output must be json or yaml, not %s", output)
			}
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only, without asking the cluster")
	cmd.Flags().StringVarP(&output, "output", "o", "", "the format in which the information should be printed. can be 'json' or 'yaml'")
	return cmd
}

// controllerVersion reads the version of the weir controller installed in the namespace from
// its Deployment's version label, falling back to the image tag.
func controllerVersion(ctx context.Context, g *globals) (string, error) {
	c, err := g.client()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: g.namespace, Name: "weir"}, &dep); err != nil {
		return "", fmt.Errorf("get deployment %s/weir: %w", g.namespace, err)
	}
	if v := dep.Labels["app.kubernetes.io/version"]; v != "" {
		return v, nil
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			if i := strings.LastIndex(c.Image, ":"); i >= 0 {
				return c.Image[i+1:], nil
			}
		}
	}
	return "", fmt.Errorf("deployment %s/weir carries no version", g.namespace)
}
