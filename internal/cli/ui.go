package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/weirgitops/weir/internal/sourceref"
	"github.com/weirgitops/weir/internal/ui"
	"github.com/weirgitops/weir/internal/version"
)

func newUICommand(g *globals) *cobra.Command {
	var addr string
	var noOpen bool
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve weir's web UI on this workstation",
		Long: "The ui command serves weir's web UI on a local address, reading the cluster with the kubeconfig's identity " +
			"(like kubectl proxy): its informers stream every Flux object, and actions (reconcile, suspend, resume) are done as " +
			"the kubeconfig user when its RBAC allows them. The URL it prints carries a one-time token; the browser is opened " +
			"unless --no-open.",
		Example: `  # Open the UI for the current kubeconfig context
  weir ui

  # On another port, without opening a browser
  weir ui --address 127.0.0.1:9999 --no-open`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.restConfig()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			informers, err := cache.New(cfg, cache.Options{Scheme: c.Scheme(), Mapper: c.RESTMapper()})
			if err != nil {
				return err
			}
			go func() { _ = informers.Start(ctx) }()
			tmp, err := os.MkdirTemp("", "weir-ui-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(tmp) }()
			token := randomURLToken()
			srv, err := ui.New(ctx, ui.Options{Reader: informers, Informers: informers, APIReader: c, Client: c, Config: cfg,
				LocalToken: token, LocalUser: kubeconfigUser(g), Version: version.Version,
				Sources: func(ctx context.Context, kind, namespace, name string) (string, func(), error) {
					dir, err := sourceref.Unpack(ctx, c, c.Scheme(), sourceref.Ref{Kind: kind, Namespace: namespace, Name: name}, tmp)
					if err != nil {
						return "", nil, err
					}
					return dir, func() { _ = os.RemoveAll(dir) }, nil
				}})
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			url := fmt.Sprintf("http://%s/?token=%s", l.Addr().String(), token)
			fmt.Fprintf(g.out, "► weir UI at %s\n", url)
			if !noOpen {
				openBrowser(url)
			}
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-ctx.Done()
				sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer scancel()
				_ = hs.Shutdown(sctx)
			}()
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "address", "127.0.0.1:9999", "address to serve the UI on (keep it on loopback)")
	cmd.Flags().BoolVar(&noOpen, "no-open", false, "do not open a browser")
	return cmd
}

// kubeconfigUser names the kubeconfig's user for the UI.
func kubeconfigUser(g *globals) string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = g.kubeconfig
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return "kubeconfig user"
	}
	ctxName := g.kubeContext
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	if c, ok := raw.Contexts[ctxName]; ok && c.AuthInfo != "" {
		return c.AuthInfo
	}
	return "kubeconfig user"
}

func randomURLToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// openBrowser opens url in the workstation's browser, best effort.
func openBrowser(url string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	_ = cmd.Start()
}
