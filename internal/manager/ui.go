package manager

import (
	"context"
	"fmt"
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weirgitops/weir/internal/sourceref"
	"github.com/weirgitops/weir/internal/ui"
	"github.com/weirgitops/weir/internal/version"
)

// addUI serves the web UI on --ui-addr from the manager's caches.
func addUI(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	uopts := ui.Options{Reader: mgr.GetCache(), Informers: mgr.GetCache(), APIReader: mgr.GetAPIReader(),
		Client: mgr.GetClient(), Config: mgr.GetConfig(), SecureCookies: opts.UISecureCookies,
		Version: version.Version, Controllers: opts.Controllers, Sources: artifactSources(mgr, opts.TempDir)}
	if opts.UIOIDCIssuerURL != "" {
		secret := os.Getenv("WEIR_UI_OIDC_CLIENT_SECRET")
		uopts.OIDC = &ui.OIDC{IssuerURL: opts.UIOIDCIssuerURL, ClientID: opts.UIOIDCClientID, ClientSecret: secret,
			RedirectURL: opts.UIOIDCRedirectURL, UsernameClaim: opts.UIOIDCUsernameClaim, GroupsClaim: opts.UIOIDCGroupsClaim,
			UsernamePrefix: opts.UIOIDCUsernamePrefix, GroupsPrefix: opts.UIOIDCGroupsPrefix}
	}
	srv, err := ui.New(ctx, uopts)
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	return mgr.Add(httpServer("ui-server", opts.UIAddr, srv))
}

// artifactSources unpacks sources' artifacts, from the artifact server, for the UI's drift and
// declaring files.
func artifactSources(mgr ctrl.Manager, tempDir string) ui.SourceFetcher {
	return func(ctx context.Context, kind, namespace, name string) (string, func(), error) {
		parent, err := os.MkdirTemp(tempDir, "weir-ui-")
		if err != nil {
			return "", nil, err
		}
		cleanup := func() { _ = os.RemoveAll(parent) }
		dir, err := sourceref.Unpack(ctx, mgr.GetAPIReader(), mgr.GetScheme(), sourceref.Ref{Kind: kind, Namespace: namespace, Name: name}, parent)
		if err != nil {
			cleanup()
			return "", nil, err
		}
		return dir, cleanup, nil
	}
}

// uiFlagsIncomplete reports whether an OIDC setting was given without the issuer.
func (o *Options) uiFlagsIncomplete() bool {
	return o.UIOIDCIssuerURL == "" && strings.TrimSpace(o.UIOIDCClientID+o.UIOIDCRedirectURL) != ""
}
