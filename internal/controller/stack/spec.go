package stack

import (
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
)

// Defaults of the stack's fields, as the API documents them.
const (
	// DefaultCredentialsSecret is the Secret, in the stack's namespace, with the GitHub API
	// credentials when repository.credentialsSecretRef is unset.
	DefaultCredentialsSecret = "github-credentials"
	// DefaultAPIURL is GitHub's REST API.
	DefaultAPIURL = "https://api.github.com/"

	defaultBranch           = "main"
	defaultSourceInterval   = time.Minute
	defaultKsInterval       = 10 * time.Minute
	defaultEngineInterval   = 10 * time.Minute
	defaultRefreshInterval  = time.Hour
	defaultNodePool         = "gitops"
	defaultSecretStoreKind  = "ClusterSecretStore"
	defaultAppsPath         = "./apps"
	defaultCrossplanePath   = "./crossplane"
	appsKustomization       = "apps"
	crossplaneKustomization = "crossplane"
)

// Names of the objects the stack creates in the runtime namespace, seed 000's.
const (
	// SourceName is the GitRepository's name.
	SourceName = "gitops"
	// AuthSecretName is the GitRepository's Secret (and the ExternalSecret that renders it).
	AuthSecretName = "gitops-auth"
	// EngineName names the HelmRelease, its release and the ExternalArtifact of the chart.
	EngineName = "weir"
)

// policies is what the management policies allow on the repository.
type policies struct {
	create, update, lateInit, delete bool
}

// policiesOf resolves spec.managementPolicies ("*" or empty: everything) with
// repository.allowDelete: Delete needs both. Observe is always implied.
func policiesOf(spec *hopsv1.FluxGitopsStackSpec) policies {
	ps := spec.ManagementPolicies
	all := len(ps) == 0 || slices.Contains(ps, hopsv1.PolicyAll)
	has := func(p hopsv1.ManagementPolicy) bool { return all || slices.Contains(ps, p) }
	return policies{
		create:   has(hopsv1.PolicyCreate),
		update:   has(hopsv1.PolicyUpdate),
		lateInit: has(hopsv1.PolicyLateInitialize),
		delete:   has(hopsv1.PolicyDelete) && spec.Repository.AllowDelete,
	}
}

// repoName is the repository's name: repository.name or <clusterName>-gitops.
func repoName(spec *hopsv1.FluxGitopsStackSpec) string {
	if spec.Repository.Name != "" {
		return spec.Repository.Name
	}
	return spec.ClusterName + "-gitops"
}

// branch is the branch the GitRepository follows.
func branch(spec *hopsv1.FluxGitopsStackSpec) string {
	if spec.Repository.Branch != "" {
		return spec.Repository.Branch
	}
	return defaultBranch
}

// apiURL is the GitHub API root, with a trailing slash: repository.apiURL, else the credentials
// Secret's "apiURL" or (a GitHub App's) "githubAppBaseURL", else GitHub's.
func apiURL(spec *hopsv1.FluxGitopsStackSpec, secret map[string][]byte) string {
	u := spec.Repository.APIURL
	for _, k := range []string{"apiURL", "githubAppBaseURL"} {
		if u == "" {
			u = strings.TrimSpace(string(secret[k]))
		}
	}
	if u == "" {
		return DefaultAPIURL
	}
	if u[len(u)-1] != '/' {
		u += "/"
	}
	return u
}

// credentialsSecret is the name of the GitHub credentials Secret.
func credentialsSecret(spec *hopsv1.FluxGitopsStackSpec) string {
	if r := spec.Repository.CredentialsSecretRef; r != nil && r.Name != "" {
		return r.Name
	}
	return DefaultCredentialsSecret
}

// engineEnabled says whether the stack manages the engine.
func engineEnabled(spec *hopsv1.FluxGitopsStackSpec) bool {
	return spec.Flux.Enabled == nil || *spec.Flux.Enabled
}

// kustomization is one resolved Kustomization of the stack.
type kustomization struct {
	name     string
	enabled  bool
	path     string
	interval time.Duration
	prune    bool
}

// kustomizations resolves apps (enabled unless disabled) and crossplane (disabled unless
// enabled), in that order.
func kustomizations(spec *hopsv1.FluxGitopsStackSpec) []kustomization {
	one := func(name string, s *hopsv1.KustomizationSpec, enabled bool, path string) kustomization {
		k := kustomization{name: name, enabled: enabled, path: path, interval: defaultKsInterval, prune: true}
		if s == nil {
			return k
		}
		if s.Enabled != nil {
			k.enabled = *s.Enabled
		}
		if s.Path != "" {
			k.path = s.Path
		}
		if s.Interval != nil {
			k.interval = s.Interval.Duration
		}
		if s.Prune != nil {
			k.prune = *s.Prune
		}
		return k
	}
	return []kustomization{
		one(appsKustomization, spec.Kustomizations.Apps, true, defaultAppsPath),
		one(crossplaneKustomization, spec.Kustomizations.Crossplane, false, defaultCrossplanePath),
	}
}

// nodePoolName is the NodePool's name.
func nodePoolName(spec *hopsv1.FluxGitopsStackSpec) string {
	if spec.NodePool.Name != "" {
		return spec.NodePool.Name
	}
	return defaultNodePool
}

// durationOr is d, or def when d is unset.
func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}
