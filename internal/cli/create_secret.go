package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"

	"github.com/weirgitops/weir/internal/redact"
)

func createSecretGitCommand(g *globals, f *createFlags) *cobra.Command {
	var u, username, password, bearer, algo, curve, keyFile, caFile string
	var rsaBits int
	cmd := &cobra.Command{
		Use:   "git [name]",
		Short: "Create or update a Kubernetes secret for Git authentication",
		Example: `  # SSH: generate a key pair, scan the host key and print the deploy key
  weir create secret git podinfo-auth --url=ssh://git@github.com/stefanprodan/podinfo --export

  # HTTPS basic auth
  weir create secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo -u=user -p=token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if u == "" {
				return fmt.Errorf("url is required")
			}
			parsed, err := url.Parse(u)
			if err != nil {
				return fmt.Errorf("git URL parse failed: %w", redact.Err(err))
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			data := map[string]string{}
			switch parsed.Scheme {
			case "ssh":
				priv, pub, err := sshKeyPair(algo, curve, rsaBits, keyFile, password)
				if err != nil {
					return err
				}
				hosts, err := scanHostKey(cmd, parsed.Host, g.timeout)
				if err != nil {
					return err
				}
				data["identity"], data["identity.pub"], data["known_hosts"] = string(priv), pub, hosts
				if password != "" {
					data["password"] = password
				}
				dst := g.out
				if f.export {
					dst = g.errOut
				}
				fmt.Fprintf(dst, "✚ deploy key: %s\n", strings.TrimSpace(pub))
			case "http", "https":
				switch {
				case bearer != "" && (username != "" || password != ""):
					return fmt.Errorf("user credentials and bearer token cannot be used together")
				case bearer != "":
					data["bearerToken"] = bearer
				case username != "" && password != "":
					data["username"], data["password"] = username, password
				default:
					return fmt.Errorf("for Git over HTTP/S the username and password, or a bearer token, are required")
				}
				if caFile != "" {
					ca, err := os.ReadFile(caFile)
					if err != nil {
						return fmt.Errorf("unable to read TLS CA file: %w", err)
					}
					data["ca.crt"] = string(ca)
				}
			default:
				return fmt.Errorf("git URL scheme '%s' not supported, can be: ssh, http and https", parsed.Scheme)
			}
			return emitSecret(cmd, g, f, secretMap(om, "", data))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&u, "url", "", "git address, e.g. ssh://git@host/org/repository")
	fl.StringVarP(&username, "username", "u", "", "basic authentication username")
	fl.StringVarP(&password, "password", "p", "", "basic authentication password")
	fl.StringVar(&bearer, "bearer-token", "", "bearer authentication token")
	fl.StringVar(&algo, "ssh-key-algorithm", "ecdsa", "SSH public key algorithm (rsa, ecdsa, ed25519)")
	fl.IntVar(&rsaBits, "ssh-rsa-bits", 2048, "SSH RSA public key bit size (multiplies of 8, min 1024, max 16384)")
	fl.StringVar(&curve, "ssh-ecdsa-curve", "p384", "SSH ECDSA public key curve (p256, p384, p521)")
	fl.StringVar(&keyFile, "private-key-file", "", "path to a passwordless private key file used for authenticating to the Git SSH server")
	fl.StringVar(&caFile, "ca-crt-file", "", "path to TLS CA certificate file used for validating self-signed certificates")
	return cmd
}

// sshKeyPair reads the private key file, or generates a key pair, and returns the private key
// in OpenSSH PEM form and the authorized_keys line of the public key.
func sshKeyPair(algo, curve string, rsaBits int, keyFile, passphrase string) ([]byte, string, error) {
	if keyFile != "" {
		priv, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, "", fmt.Errorf("read private key file: %w", err)
		}
		var signer ssh.Signer
		if passphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(priv, []byte(passphrase))
		} else {
			signer, err = ssh.ParsePrivateKey(priv)
		}
		if err != nil {
			return nil, "", fmt.Errorf("parse private key file: %w", err)
		}
		return priv, string(ssh.MarshalAuthorizedKey(signer.PublicKey())), nil
	}
	var key crypto.Signer
	var err error
	switch algo {
	case "ecdsa":
		c := map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()}[curve]
		if c == nil {
			return nil, "", fmt.Errorf("unsupported ECDSA curve %q: use p256, p384 or p521", curve)
		}
		key, err = ecdsa.GenerateKey(c, rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		if rsaBits < 1024 || rsaBits > 16384 || rsaBits%8 != 0 {
			return nil, "", fmt.Errorf("invalid RSA key size %d", rsaBits)
		}
		key, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, "", fmt.Errorf("unsupported SSH key algorithm %q: use rsa, ecdsa or ed25519", algo)
	}
	if err != nil {
		return nil, "", fmt.Errorf("generate %s key: %w", algo, err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, "", fmt.Errorf("encode private key: %w", err)
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, "", fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(block), string(ssh.MarshalAuthorizedKey(pub)), nil
}

// errHostKeyCollected stops the SSH handshake once the host key is known.
var errHostKeyCollected = errors.New("host key collected")

// scanHostKey connects to an SSH server and returns a known_hosts line for its host key.
func scanHostKey(cmd *cobra.Command, host string, timeout time.Duration) (string, error) {
	addr := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		addr = net.JoinHostPort(host, "22")
	}
	var line string
	cfg := &ssh.ClientConfig{
		User:    "git",
		Timeout: timeout,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			line = knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
			return errHostKeyCollected
		},
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(cmd.Context(), "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("scan host key of %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }()
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	if line == "" {
		return "", fmt.Errorf("scan host key of %s: %w", addr, err)
	}
	return line + "\n", nil
}

func createSecretHelmCommand(g *globals, f *createFlags) *cobra.Command {
	var username, password, certFile, keyFile, caFile string
	cmd := &cobra.Command{
		Use:   "helm [name]",
		Short: "Create or update a Kubernetes secret for Helm repository authentication",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			data := map[string]string{}
			if username != "" || password != "" {
				data["username"], data["password"] = username, password
			}
			if err := readTLSFiles(data, certFile, keyFile, caFile); err != nil {
				return err
			}
			return emitSecret(cmd, g, f, secretMap(om, "", data))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&username, "username", "u", "", "basic authentication username")
	fl.StringVarP(&password, "password", "p", "", "basic authentication password")
	addTLSFlags(cmd, &certFile, &keyFile, &caFile)
	return cmd
}

func addTLSFlags(cmd *cobra.Command, certFile, keyFile, caFile *string) {
	cmd.Flags().StringVar(certFile, "tls-crt-file", "", "TLS authentication cert file path")
	cmd.Flags().StringVar(keyFile, "tls-key-file", "", "TLS authentication key file path")
	cmd.Flags().StringVar(caFile, "ca-crt-file", "", "TLS authentication CA file path")
}

func readTLSFiles(data map[string]string, certFile, keyFile, caFile string) error {
	if (certFile == "") != (keyFile == "") {
		return fmt.Errorf("--tls-crt-file and --tls-key-file must be given together")
	}
	for key, file := range map[string]string{corev1.TLSCertKey: certFile, corev1.TLSPrivateKeyKey: keyFile, "ca.crt": caFile} {
		if file == "" {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		data[key] = string(b)
	}
	return nil
}

func createSecretTLSCommand(g *globals, f *createFlags) *cobra.Command {
	var certFile, keyFile, caFile string
	cmd := &cobra.Command{
		Use:   "tls [name]",
		Short: "Create or update a Kubernetes secret with TLS certificates",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			data := map[string]string{}
			if err := readTLSFiles(data, certFile, keyFile, caFile); err != nil {
				return err
			}
			if len(data) == 0 {
				return fmt.Errorf("at least one of --tls-crt-file/--tls-key-file or --ca-crt-file is required")
			}
			typ := corev1.SecretTypeOpaque
			if certFile != "" {
				typ = corev1.SecretTypeTLS
			}
			return emitSecret(cmd, g, f, secretMap(om, typ, data))
		},
	}
	addTLSFlags(cmd, &certFile, &keyFile, &caFile)
	return cmd
}

func createSecretOCICommand(g *globals, f *createFlags) *cobra.Command {
	var registry, username, password string
	cmd := &cobra.Command{
		Use:   "oci [name]",
		Short: "Create or update a Kubernetes image pull secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if registry == "" || username == "" || password == "" {
				return fmt.Errorf("--url, --username and --password are required")
			}
			registry = strings.TrimPrefix(registry, "oci://")
			if i := strings.Index(registry, "/"); i > 0 {
				registry = registry[:i]
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			auth := base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
			cfg, err := json.Marshal(map[string]any{"auths": map[string]any{registry: map[string]string{
				"username": username, "password": password, "auth": auth}}})
			if err != nil {
				return err
			}
			return emitSecret(cmd, g, f, secretMap(om, corev1.SecretTypeDockerConfigJson,
				map[string]string{corev1.DockerConfigJsonKey: string(cfg)}))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&registry, "url", "", "oci repository address e.g. ghcr.io/stefanprodan/charts")
	fl.StringVarP(&username, "username", "u", "", "basic authentication username")
	fl.StringVarP(&password, "password", "p", "", "basic authentication password")
	return cmd
}

func createSecretGitHubAppCommand(g *globals, f *createFlags) *cobra.Command {
	var appID, installationID, installationOwner, keyFile, baseURL string
	cmd := &cobra.Command{
		Use:   "githubapp [name]",
		Short: "Create or update a GitHub App secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if appID == "" || keyFile == "" {
				return fmt.Errorf("--app-id and --app-private-key are required")
			}
			if installationID == "" && installationOwner == "" {
				return fmt.Errorf("--app-installation-id or --app-installation-owner is required")
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("unable to read private key file: %w", err)
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			data := map[string]string{"githubAppID": appID, "githubAppPrivateKey": string(key)}
			if installationID != "" {
				data["githubAppInstallationID"] = installationID
			}
			if installationOwner != "" {
				data["githubAppInstallationOwner"] = installationOwner
			}
			if baseURL != "" {
				data["githubAppBaseURL"] = baseURL
			}
			return emitSecret(cmd, g, f, secretMap(om, "", data))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&appID, "app-id", "", "github app ID")
	fl.StringVar(&installationID, "app-installation-id", "", "github app installation ID")
	fl.StringVar(&installationOwner, "app-installation-owner", "", "github app installation owner (user or organization)")
	fl.StringVar(&keyFile, "app-private-key", "", "github app private key file path")
	fl.StringVar(&baseURL, "app-base-url", "", "github app base URL")
	return cmd
}
