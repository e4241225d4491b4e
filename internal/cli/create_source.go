package cli

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/redact"
)

func secretRef(name string) *meta.LocalObjectReference {
	if name == "" {
		return nil
	}
	return &meta.LocalObjectReference{Name: name}
}

func ignorePaths(paths []string) *string {
	if len(paths) == 0 {
		return nil
	}
	s := strings.Join(paths, "\n")
	return &s
}

func createSourceGitCommand(g *globals, f *createFlags) *cobra.Command {
	var u, branch, tag, semver, commit, refName, secret, username, password string
	var ignore []string
	var submodules, silent bool
	cmd := &cobra.Command{
		Use:   "git [name]",
		Short: "Create or update a GitRepository source",
		Example: `  # Create a source for a public Git repository and print it
  weir create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master --export`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if u == "" {
				return fmt.Errorf("url is required")
			}
			parsed, err := url.Parse(u)
			if err != nil {
				return fmt.Errorf("git URL parse failed: %w", redact.Err(err))
			}
			if parsed.Scheme != "ssh" && parsed.Scheme != "http" && parsed.Scheme != "https" {
				return fmt.Errorf("git URL scheme '%s' not supported, can be: ssh, http and https", parsed.Scheme)
			}
			if branch == "" && tag == "" && semver == "" && commit == "" && refName == "" {
				return fmt.Errorf("a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			ref := &sourcev1.GitRepositoryRef{}
			switch {
			case commit != "":
				ref.Commit, ref.Branch = commit, branch
			case refName != "":
				ref.Name = refName
			case semver != "":
				ref.SemVer = semver
			case tag != "":
				ref.Tag = tag
			default:
				ref.Branch = branch
			}
			obj := &sourcev1.GitRepository{ObjectMeta: om, Spec: sourcev1.GitRepositorySpec{
				URL: u, Interval: metav1.Duration{Duration: f.interval}, Reference: ref,
				SecretRef: secretRef(secret), RecurseSubmodules: submodules, Ignore: ignorePaths(ignore),
			}}
			if !f.export && secret == "" {
				name, err := gitCredentials(cmd, g, f, om, parsed, username, password, silent)
				if err != nil {
					return err
				}
				obj.Spec.SecretRef = secretRef(name)
			}
			return emit(cmd, g, f, obj, gitKind.GVK(), "GitRepository source", gitKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&username, "username", "u", "", "basic authentication username")
	fl.StringVarP(&password, "password", "p", "", "basic authentication password")
	fl.BoolVarP(&silent, "silent", "s", false, "assumes the deploy key is already setup, skips confirmation")
	fl.StringVar(&u, "url", "", "git address, e.g. ssh://git@host/org/repository")
	fl.StringVar(&branch, "branch", "", "git branch")
	fl.StringVar(&tag, "tag", "", "git tag")
	fl.StringVar(&semver, "tag-semver", "", "git tag semver range")
	fl.StringVar(&refName, "ref-name", "", "git reference name")
	fl.StringVar(&commit, "commit", "", "git commit")
	fl.StringVar(&secret, "secret-ref", "", "the name of an existing secret containing SSH or basic credentials")
	fl.BoolVar(&submodules, "recurse-submodules", false, "include Git submodules in the artifact")
	fl.StringSliceVar(&ignore, "ignore-paths", nil, "set paths to ignore in git resource (can specify multiple paths with commas: path1,path2)")
	return cmd
}

func createSourceHelmCommand(g *globals, f *createFlags) *cobra.Command {
	var u, secret, username, password, certFile, keyFile, caFile, ociProvider string
	var passCredentials bool
	cmd := &cobra.Command{
		Use:   "helm [name]",
		Short: "Create or update a HelmRepository source",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if u == "" {
				return fmt.Errorf("url is required")
			}
			if _, err := url.Parse(u); err != nil {
				return fmt.Errorf("url parse failed: %w", redact.Err(err))
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			obj := &sourcev1.HelmRepository{ObjectMeta: om, Spec: sourcev1.HelmRepositorySpec{
				URL: u, Interval: metav1.Duration{Duration: f.interval}, SecretRef: secretRef(secret),
				PassCredentials: passCredentials,
			}}
			k := helmRepoKind
			if strings.HasPrefix(u, "oci://") {
				obj.Spec.Type = sourcev1.HelmRepositoryTypeOCI
				obj.Spec.Provider = ociProvider
				k = nil // OCI Helm repositories have no status to wait on
			}
			// As flux: credentials and TLS files given as flags go into a Secret named after the
			// source, which spec.secretRef names.
			data := map[string]string{}
			if username != "" || password != "" {
				if username == "" || password == "" {
					return fmt.Errorf("--username and --password go together")
				}
				data["username"], data["password"] = username, password
			}
			if err := readTLSFiles(data, certFile, keyFile, caFile); err != nil {
				return err
			}
			if len(data) > 0 {
				if secret != "" {
					return fmt.Errorf("--secret-ref cannot be combined with credentials or TLS files")
				}
				fmt.Fprintln(g.out, "► applying secret with repository credentials")
				if err := emitSecret(cmd, g, f, secretMap(om, "", data)); err != nil {
					return err
				}
				obj.Spec.SecretRef = secretRef(om.Name)
				fmt.Fprintln(g.out, "✔ authentication configured")
			}
			return emit(cmd, g, f, obj, helmRepoKind.GVK(), "HelmRepository source", k)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&u, "url", "", "Helm repository address (https:// or oci://)")
	fl.StringVar(&secret, "secret-ref", "", "the name of an existing secret containing TLS or basic auth credentials")
	fl.BoolVar(&passCredentials, "pass-credentials", false, "pass credentials to all domains")
	fl.StringVarP(&username, "username", "u", "", "Helm repository username")
	fl.StringVarP(&password, "password", "p", "", "Helm repository password")
	fl.StringVar(&certFile, "cert-file", "", "TLS authentication cert file path")
	fl.StringVar(&keyFile, "key-file", "", "TLS authentication key file path")
	fl.StringVar(&caFile, "ca-file", "", "TLS authentication CA file path")
	fl.StringVar(&ociProvider, "oci-provider", "", "OCI provider for authentication: generic (the default); aws, azure and gcp need workload identity, which weir does not support")
	return cmd
}

func createSourceOCICommand(g *globals, f *createFlags) *cobra.Command {
	var u, tag, semver, digest, secret, provider string
	var ignore []string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "oci [name]",
		Short: "Create or update an OCIRepository",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if u == "" {
				return fmt.Errorf("url is required")
			}
			if !strings.HasPrefix(u, "oci://") {
				return fmt.Errorf("url must start with oci://")
			}
			if tag == "" && semver == "" && digest == "" {
				return fmt.Errorf("one of --tag, --tag-semver or --digest is required")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			ref := &sourcev1.OCIRepositoryRef{}
			switch {
			case digest != "":
				ref.Digest = digest
			case semver != "":
				ref.SemVer = semver
			default:
				ref.Tag = tag
			}
			obj := &sourcev1.OCIRepository{ObjectMeta: om, Spec: sourcev1.OCIRepositorySpec{
				URL: u, Interval: metav1.Duration{Duration: f.interval}, Reference: ref, Provider: provider,
				SecretRef: secretRef(secret), Ignore: ignorePaths(ignore), Insecure: insecure,
			}}
			return emit(cmd, g, f, obj, ociKind.GVK(), "OCIRepository", ociKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&u, "url", "", "the OCI repository address, e.g. oci://ghcr.io/stefanprodan/manifests/podinfo")
	fl.StringVar(&tag, "tag", "", "the OCI artifact tag")
	fl.StringVar(&semver, "tag-semver", "", "the OCI artifact tag semver range")
	fl.StringVar(&digest, "digest", "", "the OCI artifact digest")
	fl.StringVar(&secret, "secret-ref", "", "the name of the Kubernetes image pull secret (type 'kubernetes.io/dockerconfigjson')")
	fl.StringVar(&provider, "provider", "generic", "the OCI provider name, available options are: (generic, aws, azure, gcp)")
	fl.StringSliceVar(&ignore, "ignore-paths", nil, "set paths to ignore resources (can specify multiple paths with commas: path1,path2)")
	fl.BoolVar(&insecure, "insecure", false, "for when connecting to a non-TLS registries over plain HTTP")
	return cmd
}

func createSourceBucketCommand(g *globals, f *createFlags) *cobra.Command {
	var bucket, endpoint, provider, region, secret string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "bucket [name]",
		Short: "Create or update a Bucket source",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bucket == "" {
				return fmt.Errorf("bucket-name is required")
			}
			if endpoint == "" {
				return fmt.Errorf("endpoint is required")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			obj := &sourcev1.Bucket{ObjectMeta: om, Spec: sourcev1.BucketSpec{
				BucketName: bucket, Provider: provider, Insecure: insecure, Endpoint: endpoint, Region: region,
				Interval: metav1.Duration{Duration: f.interval}, SecretRef: secretRef(secret),
			}}
			return emit(cmd, g, f, obj, bucketKind.GVK(), "Bucket source", bucketKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&bucket, "bucket-name", "", "the bucket name")
	fl.StringVar(&endpoint, "endpoint", "", "the bucket endpoint address")
	fl.StringVar(&provider, "provider", "generic", "the S3 compatible storage provider name, available options are: (generic, aws, azure, gcp)")
	fl.StringVar(&region, "region", "", "the bucket region")
	fl.StringVar(&secret, "secret-ref", "", "the name of an existing secret containing credentials")
	fl.BoolVar(&insecure, "insecure", false, "for when connecting to a non-TLS S3 HTTP endpoint")
	return cmd
}

// gitCredentials creates, as flux does when no --secret-ref is given, a Secret named after
// the source: basic auth for HTTP(S) with --username and --password, or for ssh:// a new key
// pair with the host's known_hosts, whose public key the user adds as a deploy key. It
// returns the Secret's name, or "" when no credentials are needed.
func gitCredentials(cmd *cobra.Command, g *globals, f *createFlags, om metav1.ObjectMeta, u *url.URL, username, password string, silent bool) (string, error) {
	data := map[string]string{}
	switch u.Scheme {
	case "ssh":
		priv, pub, err := sshKeyPair("ecdsa", "p384", 0, "", "")
		if err != nil {
			return "", err
		}
		hosts, err := scanHostKey(cmd, u.Host, g.timeout)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(g.out, "✔ collected public key from SSH server:\n%s", hosts)
		fmt.Fprintf(g.out, "✚ deploy key: %s\n", strings.TrimSpace(pub))
		if !silent {
			if !isTerminal(g.in) {
				return "", fmt.Errorf("create GitRepository %s/%s: stdin is not a terminal: add the deploy key and use --silent", om.Namespace, om.Name)
			}
			if !confirm(g, "Have you added the deploy key to your repository") {
				return "", fmt.Errorf("create GitRepository %s/%s: aborted", om.Namespace, om.Name)
			}
		}
		data["identity"], data["identity.pub"], data["known_hosts"] = string(priv), pub, hosts
	default:
		if username == "" || password == "" {
			return "", nil
		}
		data["username"], data["password"] = username, password
	}
	fmt.Fprintln(g.out, "► applying secret with repository credentials")
	if err := emitSecret(cmd, g, f, secretMap(om, "", data)); err != nil {
		return "", err
	}
	fmt.Fprintln(g.out, "✔ authentication configured")
	return om.Name, nil
}

func createSourceChartCommand(g *globals, f *createFlags) *cobra.Command {
	var src, chartName, version, strategy, verifyProvider, verifySecret string
	var valuesFiles []string
	cmd := &cobra.Command{
		Use:   "chart [name]",
		Short: "Create or update a HelmChart source",
		Long: "The create source chart command generates a HelmChart resource: a chart from a HelmRepository " +
			"(by name and semver range) or from a GitRepository or Bucket (by path).",
		Example: `  # A chart from a Helm repository
  weir create source chart podinfo --source HelmRepository/podinfo --chart podinfo --chart-version ">=6.0.0 <7.0.0"

  # A chart from a Git repository, a new artifact for every commit
  weir create source chart app --source GitRepository/fleet --chart ./charts/app --reconcile-strategy Revision`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chartName == "" {
				return fmt.Errorf("chart name or path is required")
			}
			kind, name, _, err := parseKindRef(src, "", []string{sourcev1.HelmRepositoryKind, sourcev1.GitRepositoryKind, sourcev1.BucketKind})
			if err != nil {
				return err
			}
			switch strategy {
			case "", sourcev1.ReconcileStrategyChartVersion, sourcev1.ReconcileStrategyRevision:
			default:
				return fmt.Errorf("reconcile strategy '%s' is not supported, must be one of: ChartVersion, Revision", strategy)
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			obj := &sourcev1.HelmChart{ObjectMeta: om, Spec: sourcev1.HelmChartSpec{
				Chart: chartName, Version: version, Interval: metav1.Duration{Duration: f.interval},
				SourceRef:         sourcev1.LocalHelmChartSourceReference{Kind: kind, Name: name},
				ReconcileStrategy: strategy, ValuesFiles: valuesFiles,
			}}
			if verifyProvider != "" {
				obj.Spec.Verify = &sourcev1.HelmChartVerification{Provider: verifyProvider, SecretRef: secretRef(verifySecret)}
			}
			return emit(cmd, g, f, obj, chartKind.GVK(), "HelmChart source", chartKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&src, "source", "", "source that contains the chart in the format '<kind>/<name>', where kind must be one of: (HelmRepository, GitRepository, Bucket)")
	fl.StringVar(&chartName, "chart", "", "Helm chart name or path")
	fl.StringVar(&version, "chart-version", "", "Helm chart version, accepts a semver range (ignored for charts from GitRepository and Bucket sources)")
	fl.StringVar(&strategy, "reconcile-strategy", "ChartVersion", "the reconcile strategy for helm chart created by the helm release (accepted values: 'ChartVersion' and 'Revision')")
	fl.StringSliceVar(&valuesFiles, "values-files", nil, "values files to merge into the chart's values, in order (comma-separated)")
	fl.StringVar(&verifyProvider, "verify-provider", "", "signature verification provider of an OCI chart: cosign or notation")
	fl.StringVar(&verifySecret, "verify-secret-ref", "", "the name of a secret to use for signature verification")
	return cmd
}
