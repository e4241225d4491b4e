package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weirgitops/weir/internal/build"
)

// maxEnvsubstInput bounds what envsubst reads from stdin.
const maxEnvsubstInput = 64 << 20

func newEnvsubstCommand(g *globals) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "envsubst",
		Short: "envsubst substitutes the values of environment variables",
		Long: "The envsubst command reads stdin and writes it to stdout with ${VAR} expressions replaced by the values " +
			"of environment variables, with the same syntax and defaults (${VAR:=default}, ${VAR:-default}) as the " +
			"Kustomizations' post-build substitution. With --strict, a variable without a value and without a default is an error.",
		Example: `  # Substitute what kustomize build renders
  kustomize build . | weir envsubst --strict`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := io.ReadAll(io.LimitReader(g.in, maxEnvsubstInput+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			if len(in) > maxEnvsubstInput {
				return fmt.Errorf("stdin exceeds %d bytes", maxEnvsubstInput)
			}
			vars := map[string]string{}
			for _, kv := range os.Environ() {
				if k, v, ok := strings.Cut(kv, "="); ok {
					vars[k] = v
				}
			}
			out, err := build.Expand(string(in), vars, strict)
			if err != nil {
				return err
			}
			_, err = io.WriteString(g.out, out)
			return err
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail if a variable without a default value is declared in the input but is missing from the environment")
	return cmd
}
