package cli

import (
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weirgitops/weir/internal/manager"
)

func newControllerCommand() *cobra.Command {
	opts := manager.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run every weir controller in one process",
		Long: `Run every weir controller (sources, Kustomizations, HelmReleases, notifications, image
automation) in one controller-runtime Manager with shared caches. It runs in a Pod or outside a
cluster from a kubeconfig. On SIGTERM it stops taking work, lets in-flight reconciles finish
within --graceful-shutdown-timeout, and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			log := manager.NewLogger(opts.LogLevel, opts.LogEncoding)
			ctrl.SetLogger(log)
			cfg, err := manager.RESTConfig(opts.Kubeconfig)
			if err != nil {
				return err
			}
			return manager.Run(cmd.Context(), cfg, opts, log)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}
