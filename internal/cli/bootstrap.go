package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/weirgitops/weir/internal/bootstrap"
	"github.com/weirgitops/weir/internal/install"
)

// bootstrapFlags are the flags every bootstrap command shares, flux's.
type bootstrapFlags struct {
	version, registry, imagePullSecret, branch, manifests, logLevel, clusterDomain string
	components, componentsExtra, tolerationKeys                                    []string
	recurseSubmodules, watchAllNamespaces, networkPolicy, tokenAuth, force         bool
	secretName, keyAlgorithm, keyECDSACurve, sshHostname, caFile, privateKeyFile   string
	keyRSABits                                                                     int
	authorName, authorEmail, commitMessageAppendix                                 string
	gpgKeyRing, gpgPassphrase, gpgKeyID                                            string
}

// fluxComponents are the component names flux's --components takes; weir runs them all in
// one Deployment.
var fluxComponents = []string{"source-controller", "kustomize-controller", "helm-controller",
	"notification-controller", "image-reflector-controller", "image-automation-controller", "source-watcher"}

func newBootstrapCommand(g *globals) *cobra.Command {
	b := &bootstrapFlags{}
	inst := install.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Deploy weir on a cluster the GitOps way",
		Long: `The bootstrap sub-commands push weir's install manifests and the sync manifests to a Git
repository and deploy weir on the cluster, which then keeps itself in sync with the repository.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&b.version, "version", "v", inst.Version, "weir version (image tag) to install")
	pf.StringSliceVar(&b.components, "components", []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"},
		"list of components, accepts comma-separated values (weir runs every controller in one Deployment: accepted for compatibility)")
	pf.StringSliceVar(&b.componentsExtra, "components-extra", nil,
		"list of components in addition to those supplied or defaulted, such as 'image-reflector-controller,image-automation-controller'")
	pf.StringVar(&b.registry, "registry", inst.Registry, "container registry where the weir image is published")
	pf.StringVar(&b.imagePullSecret, "image-pull-secret", "", "Kubernetes secret name used for pulling the controller image from a private registry")
	pf.StringVar(&b.branch, "branch", "main", "Git branch")
	pf.BoolVar(&b.recurseSubmodules, "recurse-submodules", false, "when enabled, configures the GitRepository source to initialize and include Git submodules in the artifact it produces")
	pf.StringVar(&b.manifests, "manifests", "", "path to the manifest directory")
	pf.BoolVar(&b.watchAllNamespaces, "watch-all-namespaces", true, "watch for custom resources in all namespaces, if set to false it will only watch the namespace where weir is installed")
	pf.BoolVar(&b.networkPolicy, "network-policy", true, "setup Kubernetes network policies to deny ingress access to weir from other namespaces")
	pf.BoolVar(&b.tokenAuth, "token-auth", false, "when enabled, the personal access token will be used instead of the SSH deploy key")
	pf.StringVar(&b.logLevel, "log-level", "info", "log level, available options are: (debug, info, error)")
	pf.StringVar(&b.clusterDomain, "cluster-domain", inst.ClusterDomain, "internal cluster domain")
	pf.StringSliceVar(&b.tolerationKeys, "toleration-keys", nil, "list of toleration keys used to schedule the controller pods onto nodes with matching taints")
	pf.StringVar(&b.secretName, "secret-name", "flux-system", "name of the secret the sync credentials can be found in or stored to")
	pf.StringVar(&b.keyAlgorithm, "ssh-key-algorithm", "ecdsa", "SSH public key algorithm (rsa, ecdsa, ed25519)")
	pf.IntVar(&b.keyRSABits, "ssh-rsa-bits", 2048, "SSH RSA public key bit size (multiplies of 8, min 1024, max 8192)")
	pf.StringVar(&b.keyECDSACurve, "ssh-ecdsa-curve", "p384", "SSH ECDSA public key curve (p256, p384, p521)")
	pf.StringVar(&b.sshHostname, "ssh-hostname", "", "SSH hostname, to be used when the SSH host differs from the HTTPS one")
	pf.StringVar(&b.caFile, "ca-file", "", "path to TLS CA file used for validating self-signed certificates")
	pf.StringVar(&b.privateKeyFile, "private-key-file", "", "path to a private key file used for authenticating to the Git SSH server")
	pf.StringVar(&b.authorName, "author-name", "weir", "author name for Git commits")
	pf.StringVar(&b.authorEmail, "author-email", "", "author email for Git commits")
	pf.StringVar(&b.gpgKeyRing, "gpg-key-ring", "", "path to GPG key ring for signing commits")
	pf.StringVar(&b.gpgPassphrase, "gpg-passphrase", "", "passphrase for decrypting GPG private key")
	pf.StringVar(&b.gpgKeyID, "gpg-key-id", "", "key id for selecting a particular key")
	pf.StringVar(&b.commitMessageAppendix, "commit-message-appendix", "", "string to add to the commit messages, e.g. '[ci skip]'")
	pf.BoolVar(&b.force, "force", false, "override an existing installation managed by a different tool")
	_ = pf.MarkHidden("manifests")
	cmd.AddCommand(newBootstrapGitHubCommand(g, b), newBootstrapGitCommand(g, b))
	return cmd
}

// validate refuses what weir's bootstrap cannot do rather than ignoring it.
func (b *bootstrapFlags) validate() error {
	for _, c := range append(slices.Clone(b.components), b.componentsExtra...) {
		if !slices.Contains(fluxComponents, c) {
			return fmt.Errorf("component %s is not one of flux's: %s", c, strings.Join(fluxComponents, ", "))
		}
	}
	for _, req := range []string{"source-controller", "kustomize-controller"} {
		if !slices.Contains(append(slices.Clone(b.components), b.componentsExtra...), req) {
			return fmt.Errorf("component %s is required", req)
		}
	}
	switch {
	case b.gpgKeyRing != "" || b.gpgKeyID != "" || b.gpgPassphrase != "":
		return errors.New("--gpg-key-ring, --gpg-key-id and --gpg-passphrase: weir bootstrap does not sign its commits yet")
	case b.manifests != "":
		return errors.New("--manifests: weir bootstrap writes weir's own install manifests")
	case b.imagePullSecret != "":
		return errors.New("--image-pull-secret: not supported by weir's install manifests yet; use weir's chart and imagePullSecrets")
	case len(b.tolerationKeys) > 0:
		return errors.New("--toleration-keys: not supported by weir's install manifests yet; use weir's chart and tolerations")
	}
	switch b.logLevel {
	case "debug", "info", "error":
	default:
		return fmt.Errorf("invalid --log-level %q: debug, info or error", b.logLevel)
	}
	return nil
}

// install returns the install options of the bootstrap.
func (b *bootstrapFlags) install(namespace string) install.Options {
	o := install.DefaultOptions()
	o.Namespace, o.Version, o.Registry = namespace, b.version, b.registry
	o.WatchAllNamespaces, o.NetworkPolicy, o.LogLevel, o.ClusterDomain = b.watchAllNamespaces, b.networkPolicy, b.logLevel, b.clusterDomain
	return o
}

// caBundle reads --ca-file.
func (b *bootstrapFlags) caBundle() ([]byte, error) {
	if b.caFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(b.caFile)
	if err != nil {
		return nil, fmt.Errorf("unable to read TLS CA file: %w", err)
	}
	return data, nil
}

// key returns the SSH key of a new sync Secret: --private-key-file's, or a new one.
func (b *bootstrapFlags) key(password string) func() (bootstrap.KeyPair, error) {
	return func() (bootstrap.KeyPair, error) {
		if b.privateKeyFile != "" {
			data, err := os.ReadFile(b.privateKeyFile)
			if err != nil {
				return bootstrap.KeyPair{}, fmt.Errorf("read --private-key-file: %w", err)
			}
			return bootstrap.LoadKey(data, []byte(password))
		}
		return bootstrap.GenerateKey(b.keyAlgorithm, b.keyRSABits, b.keyECDSACurve)
	}
}

// cleanPath checks --path: relative, inside the repository.
func cleanPath(p string) (string, error) {
	if strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..") {
		return "", fmt.Errorf("invalid --path %q: a path relative to the repository root, without '..'", p)
	}
	return strings.Trim(p, "/"), nil
}

// readSecret reads a secret from the environment or, when the input is a terminal or a pipe,
// from one line of it.
func readSecret(g *globals, env, prompt string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	if isTerminal(g.in) {
		fmt.Fprint(g.errOut, prompt)
	}
	line, _ := bufio.NewReader(g.in).ReadString('\n')
	return strings.TrimSpace(line)
}

// sshAuth is SSH auth with the private key file (or the SSH agent), trusting the host key
// scanned at the start, as flux does.
func sshAuth(user string, keyFile, password string, knownHostsLine []byte) (transport.AuthMethod, error) {
	cb, err := fixedKnownHosts(knownHostsLine)
	if err != nil {
		return nil, err
	}
	if keyFile == "" {
		a, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("no --private-key-file and no SSH agent: %w", err)
		}
		a.HostKeyCallback = cb
		return a, nil
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read --private-key-file: %w", err)
	}
	a, err := gitssh.NewPublicKeys(user, data, password)
	if err != nil {
		return nil, fmt.Errorf("parse --private-key-file: %w", err)
	}
	a.HostKeyCallback = cb
	return a, nil
}

// fixedKnownHosts accepts the host key of a known_hosts line only.
func fixedKnownHosts(line []byte) (ssh.HostKeyCallback, error) {
	_, _, key, _, _, err := ssh.ParseKnownHosts(line)
	if err != nil {
		return nil, fmt.Errorf("parse scanned host key: %w", err)
	}
	return ssh.FixedHostKey(key), nil
}

func newBootstrapGitHubCommand(g *globals, b *bootstrapFlags) *cobra.Command {
	var owner, repository, hostname, path string
	var teams []string
	var personal, private, readWriteKey, reconcile bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Deploy weir on a cluster connected to a GitHub repository",
		Long: `The bootstrap github command creates the GitHub repository if it doesn't exist and commits
weir's install manifests and the sync manifests to the specified branch. Then it configures the
target cluster to synchronize with that repository. If weir is present on the cluster, the
bootstrap command will perform an upgrade if needed.`,
		Example: `  # Create a GitHub personal access token and export it as an env var
  export GITHUB_TOKEN=<my-token>

  # Run bootstrap for a private repository owned by a GitHub organization
  weir bootstrap github --owner=<organization> --repository=<repository name> --path=clusters/my-cluster

  # Run bootstrap for a public repository on a personal account
  weir bootstrap github --owner=<user> --repository=<repository name> --private=false --personal=true --path=clusters/my-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := b.validate(); err != nil {
				return err
			}
			if owner == "" || repository == "" {
				return errors.New("--owner and --repository are required")
			}
			p, err := cleanPath(path)
			if err != nil {
				return err
			}
			token := readSecret(g, "GITHUB_TOKEN", "Please enter your GitHub personal access token (PAT): ")
			if token == "" {
				return errors.New("GITHUB_TOKEN environment variable not found and no token given on the standard input")
			}
			ca, err := b.caBundle()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			hc := &http.Client{Timeout: 30 * time.Second}
			gh, err := bootstrap.NewGitHubClient(hc, hostname, token)
			if err != nil {
				return err
			}
			prov := &bootstrap.GitHub{Client: gh, Owner: owner, Repository: repository, Personal: personal, Private: private,
				Reconcile: reconcile, Teams: teamPermissions(teams), ReadWriteKey: readWriteKey, Out: g.out}
			fmt.Fprintf(g.out, "► connecting to %s\n", hostname)
			repo, err := prov.EnsureRepository(ctx)
			if err != nil {
				return err
			}
			if err := prov.AddTeams(ctx); err != nil {
				return err
			}
			sync := bootstrap.SyncOptions{Namespace: g.namespace, Branch: b.branch, Path: p, Interval: interval,
				SecretName: b.secretName, RecurseSubmodules: b.recurseSubmodules}
			o := bootstrap.Options{Sync: sync, Install: b.install(g.namespace), PushURL: repo.GetCloneURL(),
				PushAuth: &githttp.BasicAuth{Username: "git", Password: token}, CABundle: ca,
				AuthorName: b.authorName, AuthorEmail: b.authorEmail, CommitMessageAppendix: b.commitMessageAppendix, Out: g.out}
			if b.tokenAuth {
				o.Sync.URL = repo.GetCloneURL()
				o.Credentials = bootstrap.Credentials{Username: "git", Password: token}
			} else {
				sshURL := bootstrap.SSHURL(repo.GetSSHURL())
				if b.sshHostname != "" {
					u, err := url.Parse(sshURL)
					if err != nil {
						return err
					}
					u.Host = b.sshHostname
					sshURL = u.String()
				}
				o.Sync.URL = sshURL
				o.Sync.Path = p
				title := bootstrap.DeployKeyTitle(o.Sync)
				o.Credentials = bootstrap.Credentials{Key: b.key(""),
					OnNewKey: func(ctx context.Context, public string) error {
						changed, err := prov.EnsureDeployKey(ctx, title, public)
						if err == nil && changed {
							fmt.Fprintf(g.out, "✔ configured deploy key %q for %q\n", title, repo.GetHTMLURL())
						}
						return err
					}}
				if o.Credentials.KnownHosts, err = bootstrap.ScanHostKey(ctx, sshURL); err != nil {
					return err
				}
			}
			return bootstrap.Run(ctx, c, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", "GitHub user or organization name")
	f.StringVar(&repository, "repository", "", "GitHub repository name")
	f.StringSliceVar(&teams, "team", []string{}, "GitHub team and the access to be given to it(team:maintain). Defaults to maintainer access if no access level is specified (also accepts comma-separated values)")
	f.BoolVar(&personal, "personal", false, "if true, the owner is assumed to be a GitHub user; otherwise an org")
	f.BoolVar(&private, "private", true, "if true, the repository is setup or configured as private")
	f.DurationVar(&interval, "interval", time.Minute, "sync interval")
	f.StringVar(&hostname, "hostname", "github.com", "GitHub hostname (weir also takes an http(s):// URL of the API root)")
	f.StringVar(&path, "path", "", "path relative to the repository root, when specified the cluster sync will be scoped to this path")
	f.BoolVar(&readWriteKey, "read-write-key", false, "if true, the deploy key is configured with read/write permissions")
	f.BoolVar(&reconcile, "reconcile", false, "if true, the configured options are also reconciled if the repository already exists")
	return cmd
}

// teamPermissions maps "team" and "team:permission" to permissions, maintain by default.
func teamPermissions(teams []string) map[string]string {
	m := make(map[string]string, len(teams))
	for _, t := range teams {
		name, perm, ok := strings.Cut(t, ":")
		if !ok || perm == "" {
			perm = "maintain"
		}
		m[name] = perm
	}
	return m
}

func newBootstrapGitCommand(g *globals, b *bootstrapFlags) *cobra.Command {
	var rawURL, path, username, password string
	var silent, insecureHTTP bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "git",
		Short: "Deploy weir on a cluster connected to a Git repository",
		Long: `The bootstrap git command commits weir's install manifests and the sync manifests to the
branch of a Git repository. And then it configures the target cluster to synchronize with that
repository. If weir is present on the cluster, the bootstrap command will perform an upgrade if
needed.`,
		Example: `  # Run bootstrap for a Git repository and authenticate with your SSH agent
  weir bootstrap git --url=ssh://git@example.com/repository.git --path=clusters/my-cluster

  # Run bootstrap for a Git repository and authenticate using a password
  weir bootstrap git --url=https://example.com/repository.git --password=<password> --token-auth --path=clusters/my-cluster

  # Run bootstrap for a Git repository with a passwordless private key
  weir bootstrap git --url=ssh://git@example.com/repository.git --private-key-file=<path/to/private.key> --path=clusters/my-cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := b.validate(); err != nil {
				return err
			}
			if v := os.Getenv("GIT_PASSWORD"); v != "" && password == "" {
				password = v
			}
			if b.tokenAuth && password == "" {
				password = readSecret(g, "", "Please enter your Git repository password: ")
			}
			p, err := cleanPath(path)
			if err != nil {
				return err
			}
			u, err := url.Parse(rawURL)
			if err != nil || u.Host == "" {
				return fmt.Errorf("invalid --url %q", rawURL)
			}
			ca, err := b.caBundle()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()

			o := bootstrap.Options{Install: b.install(g.namespace), CABundle: ca, PushURL: rawURL,
				AuthorName: b.authorName, AuthorEmail: b.authorEmail, CommitMessageAppendix: b.commitMessageAppendix, Out: g.out,
				Sync: bootstrap.SyncOptions{Namespace: g.namespace, Branch: b.branch, Path: p, Interval: interval,
					SecretName: b.secretName, RecurseSubmodules: b.recurseSubmodules}}
			var knownHostsLine []byte
			switch u.Scheme {
			case "http":
				if !insecureHTTP {
					return errors.New("scheme http is insecure, pass --allow-insecure-http=true to allow it")
				}
				o.PushAuth = &githttp.BasicAuth{Username: username, Password: password}
			case "https":
				o.PushAuth = &githttp.BasicAuth{Username: username, Password: password}
			case "ssh":
				if knownHostsLine, err = bootstrap.ScanHostKey(ctx, rawURL); err != nil {
					return err
				}
				user := "git"
				if u.User != nil {
					user = u.User.Username()
				}
				if o.PushAuth, err = sshAuth(user, b.privateKeyFile, password, knownHostsLine); err != nil {
					return err
				}
			default:
				return fmt.Errorf("scheme %q is not supported", u.Scheme)
			}
			sync := *u
			if b.tokenAuth {
				sync.User = nil
				if !insecureHTTP {
					sync.Scheme = "https"
				}
				o.Credentials = bootstrap.Credentials{Username: username, Password: password}
			} else {
				if sync.User == nil || username != "git" {
					sync.User = url.User(username)
				}
				sync.Scheme = "ssh"
				if b.sshHostname != "" {
					sync.Host = b.sshHostname
				}
				if knownHostsLine == nil || b.sshHostname != "" {
					if knownHostsLine, err = bootstrap.ScanHostKey(ctx, sync.String()); err != nil {
						return err
					}
				}
				o.Credentials = bootstrap.Credentials{Key: b.key(password), KnownHosts: knownHostsLine,
					OnNewKey: func(_ context.Context, public string) error {
						fmt.Fprintf(g.out, "✔ public key: %s\n", public)
						if silent || !isTerminal(g.in) {
							return nil
						}
						if !confirm(g, "Please give the key access to your repository") {
							return errors.New("aborting")
						}
						return nil
					}}
			}
			o.Sync.URL = sync.String()
			return bootstrap.Run(ctx, c, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&rawURL, "url", "", "Git repository URL")
	f.DurationVar(&interval, "interval", time.Minute, "sync interval")
	f.StringVar(&path, "path", "", "path relative to the repository root, when specified the cluster sync will be scoped to this path")
	f.StringVarP(&username, "username", "u", "git", "basic authentication username")
	f.StringVarP(&password, "password", "p", "", "basic authentication password")
	f.BoolVarP(&silent, "silent", "s", false, "assumes the deploy key is already setup, skips confirmation")
	f.BoolVar(&insecureHTTP, "allow-insecure-http", false, "allows insecure HTTP connections")
	return cmd
}
