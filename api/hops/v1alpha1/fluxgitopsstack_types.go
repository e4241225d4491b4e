package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManagementPolicy is one thing the stack may do to the GitHub repository, with Crossplane's
// names: Observe (read it), Create, Update, LateInitialize (take unset fields from GitHub
// instead of enforcing defaults), Delete, or "*" for all of them.
// +kubebuilder:validation:Enum=Observe;Create;Update;LateInitialize;Delete;"*"
type ManagementPolicy string

// The management policies.
const (
	PolicyAll            ManagementPolicy = "*"
	PolicyObserve        ManagementPolicy = "Observe"
	PolicyCreate         ManagementPolicy = "Create"
	PolicyUpdate         ManagementPolicy = "Update"
	PolicyLateInitialize ManagementPolicy = "LateInitialize"
	PolicyDelete         ManagementPolicy = "Delete"
)

// FluxGitopsStackSpec is what the stack stands up.
type FluxGitopsStackSpec struct {
	// ClusterName names the cluster; the repository is named <clusterName>-gitops unless
	// repository.name says otherwise.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ClusterName string `json:"clusterName"`

	// Labels are added to every Kubernetes object the stack creates.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// ManagementPolicies say what the stack may do to the GitHub repository. Delete is only
	// honoured when repository.allowDelete is true as well.
	// +optional
	// +kubebuilder:default={"*"}
	// +listType=set
	ManagementPolicies []ManagementPolicy `json:"managementPolicies,omitempty"`

	// Repository is the GitHub repository that holds the cluster's desired state.
	// +required
	Repository RepositorySpec `json:"repository"`

	// Flux is the GitOps engine: weir's Helm chart, installed by a HelmRelease in the runtime
	// namespace (flux-system).
	// +optional
	Flux FluxSpec `json:"flux,omitempty"`

	// Source tunes the GitRepository "gitops".
	// +optional
	Source SourceSpec `json:"source,omitempty"`

	// Kustomizations are the syncs of the repository's paths.
	// +optional
	Kustomizations KustomizationsSpec `json:"kustomizations,omitempty"`

	// ExternalSecrets projects GitHub App credentials for the GitRepository from a secret store.
	// +optional
	ExternalSecrets ExternalSecretsSpec `json:"externalSecrets,omitempty"`

	// NodePool isolates the engine on nodes of its own, through a Karpenter NodePool.
	// +optional
	NodePool NodePoolSpec `json:"nodePool,omitempty"`

	// Interval is how often the stack compares GitHub and the cluster with its spec.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	Interval metav1.Duration `json:"interval,omitempty"`

	// Suspend stops the reconciliation of the stack; what it created stays.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// RepositorySpec is the GitHub repository.
type RepositorySpec struct {
	// Org is the organisation (or user) that owns the repository.
	// +required
	// +kubebuilder:validation:MinLength=1
	Org string `json:"org"`

	// Name is the repository's name; <clusterName>-gitops when empty.
	// +optional
	Name string `json:"name,omitempty"`

	// Private makes the repository private; true when unset (unless LateInitialize takes
	// GitHub's value for an existing repository).
	// +optional
	Private *bool `json:"private,omitempty"`

	// Description is the repository's description.
	// +optional
	Description string `json:"description,omitempty"`

	// Topics are the repository's topics.
	// +optional
	Topics []string `json:"topics,omitempty"`

	// Template, when set, creates the repository from this template repository instead of
	// with an empty README.
	// +optional
	Template *TemplateRef `json:"template,omitempty"`

	// AllowDelete lets the stack delete the repository when the stack is deleted and the
	// management policies include Delete. False by default: the repository outlives the stack.
	// +optional
	AllowDelete bool `json:"allowDelete,omitempty"`

	// Branch is the branch the GitRepository follows; main when empty.
	// +optional
	Branch string `json:"branch,omitempty"`

	// APIURL is the GitHub REST API root: https://api.github.com/ when empty, or a GitHub
	// Enterprise Server's https://<host>/api/v3/.
	// +optional
	APIURL string `json:"apiURL,omitempty"`

	// CredentialsSecretRef names the Secret, in the stack's namespace, with the credentials
	// for the GitHub API: a "token", or a GitHub App in Flux's keys (githubAppID,
	// githubAppPrivateKey, githubAppInstallationID or githubAppInstallationOwner). The Secret
	// "github-credentials" when unset.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`
}

// TemplateRef names a template repository.
type TemplateRef struct {
	// Owner is the template repository's owner.
	// +required
	Owner string `json:"owner"`

	// Repository is the template repository's name.
	// +required
	Repository string `json:"repository"`

	// IncludeAllBranches copies every branch of the template, not only its default branch.
	// +optional
	IncludeAllBranches bool `json:"includeAllBranches,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the referent.
	// +required
	Name string `json:"name"`
}

// FluxSpec is the engine's HelmRelease.
type FluxSpec struct {
	// Enabled installs (or adopts) the engine; true when unset.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Values are passed to weir's chart as they are; the flux2 chart's keys that weir's chart
	// shares (prometheus.podMonitor.create, resources, tolerations, nodeSelector, extraArgs,
	// imagePullSecrets …) mean the same.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Values *apiextensionsv1.JSON `json:"values,omitempty"`

	// Interval is the HelmRelease's interval; 10m when unset.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// SourceSpec tunes the GitRepository.
type SourceSpec struct {
	// Interval is the GitRepository's interval; 1m when unset.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// KustomizationsSpec are the stack's Kustomizations.
type KustomizationsSpec struct {
	// Apps reconciles ./apps; enabled unless disabled.
	// +optional
	Apps *KustomizationSpec `json:"apps,omitempty"`

	// Crossplane reconciles ./crossplane when enabled.
	// +optional
	Crossplane *KustomizationSpec `json:"crossplane,omitempty"`
}

// KustomizationSpec is one Kustomization of the repository.
type KustomizationSpec struct {
	// Enabled creates the Kustomization. Apps is enabled and crossplane disabled by default.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Path is the directory in the repository; ./apps or ./crossplane when empty.
	// +optional
	Path string `json:"path,omitempty"`

	// Interval is the Kustomization's interval; 10m when unset.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Prune deletes what was removed from the path; true when unset.
	// +optional
	Prune *bool `json:"prune,omitempty"`
}

// ExternalSecretsSpec projects the GitRepository's GitHub App credentials.
type ExternalSecretsSpec struct {
	// Enabled creates the ExternalSecret (external-secrets.io/v1).
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// SecretStoreName is the store the credentials come from.
	// +optional
	SecretStoreName string `json:"secretStoreName,omitempty"`

	// SecretStoreKind is ClusterSecretStore (the default) or SecretStore (in flux-system).
	// +optional
	// +kubebuilder:validation:Enum=ClusterSecretStore;SecretStore
	SecretStoreKind string `json:"secretStoreKind,omitempty"`

	// RefreshInterval is how often External Secrets reads the store; 1h when unset.
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`

	// GithubApp says where the App's credentials are in the store.
	// +optional
	GithubApp GithubAppSpec `json:"githubApp,omitempty"`
}

// GithubAppSpec names the App's credentials in the secret store.
type GithubAppSpec struct {
	// SecretPath is the key of the store's secret holding the App's properties.
	// +optional
	SecretPath string `json:"secretPath,omitempty"`

	// AppIDKey is the property holding the App ID.
	// +optional
	AppIDKey string `json:"appIdKey,omitempty"`

	// PrivateKeyKey is the property holding the App's private key (PEM).
	// +optional
	PrivateKeyKey string `json:"privateKeyKey,omitempty"`

	// InstallationIDKey is the property holding the installation ID; when set, the Secret has
	// githubAppInstallationID and no owner.
	// +optional
	InstallationIDKey string `json:"installationIdKey,omitempty"`

	// InstallationOwnerKey is the property holding the installation's owner; when neither it
	// nor installationIdKey is set, the owner is repository.org.
	// +optional
	InstallationOwnerKey string `json:"installationOwnerKey,omitempty"`
}

// NodePoolSpec is the Karpenter NodePool for GitOps nodes.
type NodePoolSpec struct {
	// Enabled creates the NodePool and puts the engine on its nodes.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Name is the NodePool's name; gitops when empty.
	// +optional
	Name string `json:"name,omitempty"`

	// NodeClassRef is the NodePool's node class; karpenter.k8s.aws EC2NodeClass "default"
	// when unset.
	// +optional
	NodeClassRef *NodeClassRef `json:"nodeClassRef,omitempty"`
}

// NodeClassRef names a Karpenter node class.
type NodeClassRef struct {
	// Group of the node class.
	// +required
	Group string `json:"group"`
	// Kind of the node class.
	// +required
	Kind string `json:"kind"`
	// Name of the node class.
	// +required
	Name string `json:"name"`
}

// FluxGitopsStackStatus is what the stack observed.
type FluxGitopsStackStatus struct {
	// ObservedGeneration is the last generation reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready and one per component (RepositoryReady, EngineReady, SourceReady,
	// KustomizationsReady, ExternalSecretReady, NodePoolReady).
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastHandledReconcileAt is the last reconcile.fluxcd.io/requestedAt handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// Ready is true when every component is ready.
	// +optional
	Ready bool `json:"ready"`

	// Repository is the GitHub repository.
	// +optional
	Repository RepositoryStatus `json:"repository,omitempty"`

	// Source is the GitRepository.
	// +optional
	Source SourceStatus `json:"source,omitempty"`

	// Kustomizations are the Kustomizations by name (apps, crossplane).
	// +optional
	Kustomizations map[string]KustomizationStatus `json:"kustomizations,omitempty"`
}

// RepositoryStatus is the observed GitHub repository.
type RepositoryStatus struct {
	// URL is the repository's web URL.
	// +optional
	URL string `json:"url,omitempty"`

	// CloneURL is the HTTPS URL the GitRepository fetches.
	// +optional
	CloneURL string `json:"cloneURL,omitempty"`

	// ID is GitHub's ID of the repository the stack created or imported.
	// +optional
	ID int64 `json:"id,omitempty"`
}

// SourceStatus is the observed GitRepository.
type SourceStatus struct {
	// Ready is the GitRepository's readiness.
	// +optional
	Ready bool `json:"ready"`

	// Revision is the revision of its artifact.
	// +optional
	Revision string `json:"revision,omitempty"`
}

// KustomizationStatus is one observed Kustomization.
type KustomizationStatus struct {
	// Ready is the Kustomization's readiness.
	// +optional
	Ready bool `json:"ready"`

	// LastAppliedRevision is the revision it last applied.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`
}

// FluxGitopsStack stands up GitOps on a cluster: a GitHub repository, weir's engine, the
// GitRepository and Kustomizations that sync it, and their credentials.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fgs
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.status.repository.url`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.source.revision`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FluxGitopsStack struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FluxGitopsStackSpec   `json:"spec,omitempty"`
	Status FluxGitopsStackStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *FluxGitopsStack) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *FluxGitopsStack) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// FluxGitopsStackList is a list of FluxGitopsStacks.
// +kubebuilder:object:root=true
type FluxGitopsStackList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FluxGitopsStack `json:"items"`
}
