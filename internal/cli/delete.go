package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func newDeleteCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "delete", Short: "Delete sources and resources"}
	var silent bool
	cmd.PersistentFlags().BoolVarP(&silent, "silent", "s", false, "delete resource without asking for confirmation")
	addNouns(cmd, suspendKinds, func(k *fluxKind) *cobra.Command { return deleteKindCommand(g, k, &silent) })
	return cmd
}

func deleteKindCommand(g *globals, k *fluxKind, silent *bool) *cobra.Command {
	return &cobra.Command{
		Use:   k.Use + " [name]",
		Short: fmt.Sprintf("Delete %s objects", k.Kind),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			name := args[0]
			obj, err := getObject(ctx, c, k, g.namespace, name)
			if err != nil {
				return err
			}
			noun := lowerKind(k)
			if !*silent {
				if !isTerminal(g.in) {
					return fmt.Errorf("delete %s %s/%s: stdin is not a terminal: use --silent to delete without confirmation", k.Kind, g.namespace, name)
				}
				if !confirm(g, fmt.Sprintf("Are you sure you want to delete this %s", noun)) {
					return fmt.Errorf("delete %s %s/%s: aborted", k.Kind, g.namespace, name)
				}
			}
			fmt.Fprintf(g.out, "► deleting %s %s in %s namespace\n", noun, name, g.namespace)
			if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s %s/%s: %w", k.Kind, g.namespace, name, err)
			}
			fmt.Fprintf(g.out, "✔ %s deleted\n", noun)
			return nil
		},
	}
}
