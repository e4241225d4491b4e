package cli

import "github.com/spf13/cobra"

// addCommands attaches the Flux-shaped command groups to the root command.
func addCommands(root *cobra.Command, g *globals) {
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newGetCommand(g),
		newReconcileCommand(g),
		newSuspendCommand(g),
		newResumeCommand(g),
		newDeleteCommand(g),
		newCreateCommand(g),
		newExportCommand(g),
		newTreeCommand(g),
		newTraceCommand(g),
		newEventsCommand(g),
		newLogsCommand(g),
		newBuildCommand(g),
		newDiffCommand(g),
		newCheckCommand(g),
		newPushCommand(g),
		newPullCommand(g),
		newTagCommand(g),
		newListCommand(g),
		newStatsCommand(g),
		newDebugCommand(g),
		newEnvsubstCommand(g),
		newMigrateCommand(g),
		newBootstrapCommand(g),
		newPlanCommand(g),
		newUICommand(g),
		newCompletionCommand(g, root),
	)
}
