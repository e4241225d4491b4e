package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCommand(g *globals, root *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion",
		Short: "Generates completion scripts for various shells",
		Long:  "The completion sub-command generates completion scripts for various shells.",
	}
	shells := []struct {
		name, example string
		gen           func() error
	}{
		{"bash", "  # To load completion run\n  . <(weir completion bash)", func() error { return root.GenBashCompletionV2(g.out, true) }},
		{"zsh", "  # To load completion run\n  . <(weir completion zsh) && compdef _weir weir", func() error { return root.GenZshCompletion(g.out) }},
		{"fish", "  # To load completion run\n  weir completion fish | source", func() error { return root.GenFishCompletion(g.out, true) }},
		{"powershell", "  # To load completion run\n  . <(weir completion powershell)", func() error { return root.GenPowerShellCompletionWithDesc(g.out) }},
	}
	for _, s := range shells {
		cmd.AddCommand(&cobra.Command{
			Use:     s.name,
			Short:   fmt.Sprintf("Generates %s completion scripts", s.name),
			Example: s.example,
			Args:    cobra.NoArgs,
			RunE:    func(*cobra.Command, []string) error { return s.gen() },
		})
	}
	return cmd
}
