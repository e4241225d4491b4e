package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// receiverTypes are the Receiver types a token Secret is made for, as Flux's.
var receiverTypes = []string{"generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents"}

func createSecretReceiverCommand(g *globals, f *createFlags) *cobra.Command {
	var typ, token, email, audience string
	cmd := &cobra.Command{
		Use:   "receiver [name]",
		Short: "Create or update a Kubernetes secret for a notification Receiver",
		Long: "The create secret receiver command makes the Secret a Receiver's secretRef names: its token (generated when " +
			"--token is not given, printed once) and, for gcr, the email and audience the Google ID token must carry.",
		Example: `  # A token for a GitHub webhook Receiver
  weir create secret receiver github-webhook --type github --token "$WEBHOOK_TOKEN"

  # A gcr Receiver
  weir create secret receiver gcr-push --type gcr --email push@project.iam.gserviceaccount.com --audience https://weir.example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			known := false
			for _, t := range receiverTypes {
				known = known || t == typ
			}
			if !known {
				return fmt.Errorf("invalid --type %q: one of %v", typ, receiverTypes)
			}
			if typ == "gcr" && (email == "" || audience == "") {
				return fmt.Errorf("the gcr receiver type needs --email and --audience")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			if token == "" {
				b := make([]byte, 32)
				if _, err := rand.Read(b); err != nil {
					return err
				}
				token = hex.EncodeToString(b)
				// On stderr: stdout may be the exported YAML.
				fmt.Fprintf(cmd.ErrOrStderr(), "✚ generated token: %s\n", token)
			}
			data := map[string]string{"token": token}
			if typ == "gcr" {
				data["email"], data["audience"] = email, audience
			}
			return emitSecret(cmd, g, f, secretMap(om, "", data))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "type of the Receiver: "+fmt.Sprint(receiverTypes))
	fl.StringVar(&token, "token", "", "the webhook token; a random one is generated when empty")
	fl.StringVar(&email, "email", "", "gcr: the email of the Pub/Sub push service account")
	fl.StringVar(&audience, "audience", "", "gcr: the audience of the Pub/Sub push ID tokens")
	return cmd
}

func createSecretProxyCommand(g *globals, f *createFlags) *cobra.Command {
	var address, username, password string
	cmd := &cobra.Command{
		Use:     "proxy [name]",
		Short:   "Create or update a Kubernetes secret for proxy authentication",
		Long:    "The create secret proxy command makes the Secret a proxySecretRef names: address, and username and password when the proxy needs them.",
		Example: `  weir create secret proxy corp-proxy --address https://proxy.example.com:3128 --username user --password "$PASSWORD"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(address)
			if address == "" || err != nil || u.Host == "" {
				return fmt.Errorf("invalid --address %q: want a URL such as https://proxy.example.com:3128", address)
			}
			if (username == "") != (password == "") {
				return fmt.Errorf("--username and --password go together")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			data := map[string]string{"address": address}
			if username != "" {
				data["username"], data["password"] = username, password
			}
			return emitSecret(cmd, g, f, secretMap(om, "", data))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&address, "address", "", "the proxy address")
	fl.StringVarP(&username, "username", "u", "", "the proxy username")
	fl.StringVarP(&password, "password", "p", "", "the proxy password")
	return cmd
}

func createSecretNotationCommand(g *globals, f *createFlags) *cobra.Command {
	var trustPolicy string
	var caFiles []string
	cmd := &cobra.Command{
		Use:   "notation [name]",
		Short: "Create or update a Kubernetes secret for Notation verification",
		Long: "The create secret notation command makes the Secret a verify.secretRef names for notation: the trust " +
			"policy (trustpolicy.json) and the CA certificates (one key per file, its base name).",
		Example: `  weir create secret notation notation-config --trust-policy-file trustpolicy.json --ca-cert-file ca.crt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if trustPolicy == "" || len(caFiles) == 0 {
				return fmt.Errorf("--trust-policy-file and at least one --ca-cert-file are required")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			policy, err := os.ReadFile(trustPolicy)
			if err != nil {
				return fmt.Errorf("read %s: %w", trustPolicy, err)
			}
			data := map[string]string{"trustpolicy.json": string(policy)}
			for _, file := range caFiles {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("read %s: %w", file, err)
				}
				data[filepath.Base(file)] = string(b)
			}
			return emitSecret(cmd, g, f, secretMap(om, "", data))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&trustPolicy, "trust-policy-file", "", "the notation trust policy file")
	fl.StringSliceVar(&caFiles, "ca-cert-file", nil, "a CA certificate file (repeatable)")
	return cmd
}
