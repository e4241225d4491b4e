package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// statsKinds are the kinds `stats` counts, in flux's order.
var statsKinds = []*fluxKind{gitKind, ociKind, helmRepoKind, chartKind, bucketKind, ksKind, hrKind,
	alertKind, providerKind, receiverKind, imageUpdateKind, imagePolicyKind, imageRepoKind}

// statsHeader is flux's stats table header.
var statsHeader = []string{"Reconcilers", "Running", "Failing", "Suspended", "Storage"}

func newStatsCommand(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Stats of Flux reconciles",
		Long:  "The stats command prints the number of running, failing and suspended objects by kind, and the storage their artifacts use.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			var rows [][]string
			for _, k := range statsKinds {
				items, err := listKind(ctx, c, k, g.namespace, all, "", "")
				// A kind the cluster does not serve counts as none, as flux prints it.
				if err != nil && !apimeta.IsNoMatchError(err) {
					return err
				}
				rows = append(rows, statsRow(k, items))
			}
			return printTable(g.out, statsHeader, rows)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the statistics for objects across all namespaces")
	return cmd
}

func statsRow(k *fluxKind, items []*unstructured.Unstructured) []string {
	var running, failing, suspended int
	var size int64
	for _, u := range items {
		if isSuspended(u) {
			suspended++
		} else {
			running++
		}
		if s, _, _, ok := condition(u, "Ready"); ok && s == "False" {
			failing++
		}
		n, _, _ := unstructured.NestedInt64(u.Object, "status", "artifact", "size")
		size += n
	}
	storage := "-"
	if size > 0 {
		storage = humanBytes(size)
	}
	return []string{k.Kind, fmt.Sprint(running), fmt.Sprint(failing), fmt.Sprint(suspended), storage}
}

// humanBytes formats a size in IEC units: "10 B", "1.5 KiB", "12 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
