package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
)

// FieldManager is the server-side apply field manager of everything the CLI writes.
const FieldManager = "weir"

// globals are the flags every command shares, named as the flux CLI names them.
type globals struct {
	kubeconfig  string
	kubeContext string
	namespace   string
	timeout     time.Duration
	verbose     bool

	out    io.Writer
	errOut io.Writer
	in     io.Reader
}

// NewRootCommand returns the `weir` command with every sub-command attached.
func NewRootCommand() *cobra.Command {
	g := &globals{out: os.Stdout, errOut: os.Stderr, in: os.Stdin}
	root := &cobra.Command{
		Use:           "weir",
		Short:         "weir keeps Kubernetes clusters in the state declared in Git, with the Flux APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			g.out, g.errOut, g.in = cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.InOrStdin()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (defaults to $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&g.kubeContext, "context", "", "kubeconfig context to use")
	pf.StringVarP(&g.namespace, "namespace", "n", "flux-system", "the namespace scope for this operation")
	pf.DurationVar(&g.timeout, "timeout", 5*time.Minute, "timeout for this operation")
	pf.BoolVar(&g.verbose, "verbose", false, "print generated objects and more detail")

	root.AddCommand(
		newVersionCommand(g),
		newControllerCommand(),
		newInstallCommand(g),
		newUninstallCommand(g),
	)
	addCommands(root, g)
	return root
}

// Execute runs the root command and returns the process exit code.
func Execute(ctx context.Context) int {
	root := NewRootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		var ec exitCoder
		if asExitCoder(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "✗", msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "✗", err)
		return 1
	}
	return 0
}

// restConfig loads the kubeconfig the user chose.
func (g *globals) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = g.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: g.kubeContext}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "weir-cli"
	return cfg, nil
}

// client returns a Kubernetes client with weir's scheme.
func (g *globals) client() (client.Client, error) {
	cfg, err := g.restConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return c, nil
}
