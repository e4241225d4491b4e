package cli

import (
	"fmt"
	"strings"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func createImageRepositoryCommand(g *globals, f *createFlags) *cobra.Command {
	var image, secret, certSecret, provider string
	var scanTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "repository [name]",
		Short: "Create or update an ImageRepository object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if image == "" {
				return fmt.Errorf("an image repository (--image) is required")
			}
			if strings.Contains(image, "://") || strings.ContainsAny(image, "@") {
				return fmt.Errorf("image '%s' must be a repository without scheme, tag or digest", image)
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			r := &imagev1.ImageRepository{ObjectMeta: om, Spec: imagev1.ImageRepositorySpec{
				Image: image, Interval: metav1.Duration{Duration: f.interval}, SecretRef: secretRef(secret),
				CertSecretRef: secretRef(certSecret), Provider: provider,
			}}
			if scanTimeout > 0 {
				r.Spec.Timeout = &metav1.Duration{Duration: scanTimeout}
			}
			return emit(cmd, g, f, r, imageRepoKind.GVK(), "ImageRepository", imageRepoKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&image, "image", "", "the image repository to scan; e.g., library/alpine")
	fl.StringVar(&secret, "secret-ref", "", "the name of a docker-registry secret to use for credentials")
	fl.StringVar(&certSecret, "cert-ref", "", "the name of a secret to use for TLS certificates")
	fl.DurationVar(&scanTimeout, "scan-timeout", 0, "a timeout for scanning; this defaults to the interval if not set")
	fl.StringVar(&provider, "provider", "", "the registry provider, available options are: (generic, aws, azure, gcp)")
	return cmd
}

func createImagePolicyCommand(g *globals, f *createFlags) *cobra.Command {
	var repo, semver, alpha, numeric, filterRegex, filterExtract string
	cmd := &cobra.Command{
		Use:   "policy [name]",
		Short: "Create or update an ImagePolicy object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repo == "" {
				return fmt.Errorf("the name of an ImageRepository in the namespace is required (--image-ref)")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			p := &imagev1.ImagePolicy{ObjectMeta: om, Spec: imagev1.ImagePolicySpec{
				ImageRepositoryRef: meta.NamespacedObjectReference{Name: repo},
			}}
			switch {
			case semver != "":
				p.Spec.Policy.SemVer = &imagev1.SemVerPolicy{Range: semver}
			case alpha != "":
				p.Spec.Policy.Alphabetical = &imagev1.AlphabeticalPolicy{Order: alpha}
			case numeric != "":
				p.Spec.Policy.Numerical = &imagev1.NumericalPolicy{Order: numeric}
			default:
				return fmt.Errorf("a policy must be provided with either --select-semver, --select-alpha or --select-numeric")
			}
			if filterRegex != "" {
				p.Spec.FilterTags = &imagev1.TagFilter{Pattern: filterRegex, Extract: filterExtract}
			} else if filterExtract != "" {
				return fmt.Errorf("cannot specify --filter-extract without specifying --filter-regex")
			}
			return emit(cmd, g, f, p, imagePolicyKind.GVK(), "ImagePolicy", imagePolicyKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&repo, "image-ref", "", "the name of an image repository object")
	fl.StringVar(&semver, "select-semver", "", "a semver range to apply to tags; e.g., '1.x'")
	fl.StringVar(&alpha, "select-alpha", "", "use alphabetical sorting to select image; either \"asc\" meaning select the last, or \"desc\" meaning select the first")
	fl.StringVar(&numeric, "select-numeric", "", "use numeric sorting to select image; either \"asc\" meaning select the last, or \"desc\" meaning select the first")
	fl.StringVar(&filterRegex, "filter-regex", "", "regular expression pattern used to filter the image tags")
	fl.StringVar(&filterExtract, "filter-extract", "", "replacement pattern (using capture groups from --filter-regex) to use for sorting")
	return cmd
}

func createImageUpdateCommand(g *globals, f *createFlags) *cobra.Command {
	var gitRepo, gitRepoNS, path, checkout, push, authorName, authorEmail, template string
	cmd := &cobra.Command{
		Use:   "update [name]",
		Short: "Create or update an ImageUpdateAutomation object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if gitRepo == "" {
				return fmt.Errorf("a reference to a GitRepository is required (--git-repo-ref)")
			}
			if checkout == "" {
				return fmt.Errorf("the Git repository branch is required (--checkout-branch)")
			}
			if authorName == "" {
				return fmt.Errorf("the author name is required (--author-name)")
			}
			if authorEmail == "" {
				return fmt.Errorf("the author email is required (--author-email)")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			u := &imageautov1.ImageUpdateAutomation{ObjectMeta: om, Spec: imageautov1.ImageUpdateAutomationSpec{
				SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: gitRepo, Namespace: gitRepoNS},
				GitSpec: &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{
					Author:          imageautov1.CommitUser{Name: authorName, Email: authorEmail},
					MessageTemplate: template,
				}},
				Interval: metav1.Duration{Duration: f.interval},
			}}
			if path != "" {
				u.Spec.Update = &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: path}
			}
			if checkout != "" {
				u.Spec.GitSpec.Checkout = &imageautov1.GitCheckoutSpec{Reference: sourcev1.GitRepositoryRef{Branch: checkout}}
			}
			if push != "" {
				u.Spec.GitSpec.Push = &imageautov1.PushSpec{Branch: push}
			}
			return emit(cmd, g, f, u, imageUpdateKind.GVK(), "ImageUpdateAutomation", imageUpdateKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&gitRepo, "git-repo-ref", "", "the name of a GitRepository resource with details of the upstream Git repository")
	fl.StringVar(&gitRepoNS, "git-repo-namespace", "", "the namespace of the GitRepository resource, defaults to the ImageUpdateAutomation namespace")
	fl.StringVar(&path, "git-repo-path", "", "path to the directory containing the manifests to be updated, defaults to the repository root")
	fl.StringVar(&checkout, "checkout-branch", "", "the branch to checkout")
	fl.StringVar(&push, "push-branch", "", "the branch to push commits to, defaults to the checkout branch if not specified")
	fl.StringVar(&authorName, "author-name", "", "the name to use for commit author")
	fl.StringVar(&authorEmail, "author-email", "", "the email to use for commit author")
	fl.StringVar(&template, "commit-template", "", "a template for commit messages")
	return cmd
}
