package compat

// Finalizer is the finalizer every Flux kind that cleans up carries.
const Finalizer = "finalizers.fluxcd.io"

// Field managers.
const (
	// KustomizeFieldManager applies what Kustomizations declare, as Flux's kustomize-controller.
	KustomizeFieldManager = "kustomize-controller"
	// HelmFieldManager is the field manager of Helm releases, as Flux's helm-controller.
	HelmFieldManager = "helm-controller"
	// CLIFieldManager is the field manager of everything the weir CLI writes.
	CLIFieldManager = "weir"
	// FluxClientFieldManager is the manager of edits that Flux documents as surviving
	// reconciliation (kubectl --field-manager=flux-client-side-apply).
	FluxClientFieldManager = "flux-client-side-apply"
)

// Annotations and labels.
const (
	ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"
	ForceRequestAnnotation     = "reconcile.fluxcd.io/forceAt"
	ResetRequestAnnotation     = "reconcile.fluxcd.io/resetAt"
	ReconcileAnnotation        = "kustomize.toolkit.fluxcd.io/reconcile"
	PruneAnnotation            = "kustomize.toolkit.fluxcd.io/prune"
	SSAAnnotation              = "kustomize.toolkit.fluxcd.io/ssa"
	ForceAnnotation            = "kustomize.toolkit.fluxcd.io/force"
	SubstituteAnnotation       = "kustomize.toolkit.fluxcd.io/substitute"
	WatchLabel                 = "reconcile.fluxcd.io/watch"

	// KustomizeNameLabel and KustomizeNamespaceLabel mark what a Kustomization applied.
	KustomizeNameLabel      = "kustomize.toolkit.fluxcd.io/name"
	KustomizeNamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"

	// Values of the annotations above.
	Disabled        = "disabled"
	Enabled         = "enabled"
	SSAIfNotPresent = "IfNotPresent"
	SSAIgnore       = "Ignore"
	SSAMerge        = "Merge"
	SSAOverride     = "Override"
	WatchEnabled    = "Enabled"
)

// Condition types.
const (
	ReadyCondition                  = "Ready"
	ReconcilingCondition            = "Reconciling"
	StalledCondition                = "Stalled"
	HealthyCondition                = "Healthy"
	FetchFailedCondition            = "FetchFailed"
	ArtifactInStorageCondition      = "ArtifactInStorage"
	ArtifactOutdatedCondition       = "ArtifactOutdated"
	SourceVerifiedCondition         = "SourceVerified"
	IncludeUnavailableCondition     = "IncludeUnavailable"
	StorageOperationFailedCondition = "StorageOperationFailed"
)

// Condition reasons.
const (
	SucceededReason            = "Succeeded"
	FailedReason               = "Failed"
	ProgressingReason          = "Progressing"
	ProgressingWithRetryReason = "ProgressingWithRetry"
	// IntervalRaisedReason (weir's) is the event reason telling that spec.interval is below
	// the controller's --min-interval and was raised.
	IntervalRaisedReason          = "IntervalRaised"
	SuspendedReason               = "Suspended"
	DependencyNotReadyReason      = "DependencyNotReady"
	ReconciliationSucceededReason = "ReconciliationSucceeded"
	ReconciliationFailedReason    = "ReconciliationFailed"
	HealthCheckFailedReason       = "HealthCheckFailed"
	ArtifactFailedReason          = "ArtifactFailed"
	BuildFailedReason             = "BuildFailed"
	PruneFailedReason             = "PruneFailed"
	InvalidPathReason             = "InvalidPath"
	AuthenticationFailedReason    = "AuthenticationFailed"
	GitOperationFailedReason      = "GitOperationFailed"
	GitOperationSucceedReason     = "GitOperationSucceeded"
	URLInvalidReason              = "URLInvalid"
	StorageOperationFailedReason  = "StorageOperationFailed"
	ArchiveOperationFailedReason  = "ArchiveOperationFailed"
	StatOperationFailedReason     = "StatOperationFailed"
	VerificationErrorReason       = "VerificationError"
	IncludeUnavailableReason      = "IncludeUnavailable"
	NewRevisionReason             = "NewRevision"
	// IncludeChangeReason is ArtifactOutdated's reason when a GitRepository's included
	// artifacts changed.
	IncludeChangeReason                = "IncludeChange"
	InvalidProviderConfigurationReason = "InvalidProviderConfiguration"
	InvalidSTSConfigurationReason      = "InvalidSTSConfiguration"
	AccessDeniedReason                 = "AccessDenied"
	ArtifactUpToDateReason             = "ArtifactUpToDate"
	HealthCheckCanceledReason          = "HealthCheckCanceled"
	DependencyCycleReason              = "DependencyCycle"
	InvalidCELExpressionReason         = "InvalidCELExpression"
	// FailureReason is the image controllers' generic failure (metav1.StatusFailure).
	FailureReason = "Failure"
)

// Event metadata keys, prefixed with the object's API group when sent.
const (
	RevisionMetaKey       = "revision"
	OriginRevisionMetaKey = "originRevision"
	DigestMetaKey         = "digest"
	// CommitStatusMetaKey with CommitStatusUpdate marks the events that end a reconcile, which
	// notification providers turn into Git commit statuses.
	CommitStatusMetaKey = "commit_status"
	// TokenMetaKey distinguishes events of one revision with the same message from each
	// other for the notification-controller's duplicate suppression; it is not forwarded to
	// providers.
	TokenMetaKey       = "token"
	CommitStatusUpdate = "update"
)

// Metric names, as Flux's controllers export them.
const (
	ReconcileDurationMetric = "gotk_reconcile_duration_seconds"
	CacheEventsMetric       = "gotk_cache_events_total"
	// ResourceInfoMetric is the name Flux's kube-state-metrics configuration gives its
	// per-object gauge; weir exports it itself.
	ResourceInfoMetric = "gotk_resource_info"
)
