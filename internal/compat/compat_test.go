package compat

import (
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestValuesMatchFlux pins every value against Flux's API modules where they define it, and
// against the literal elsewhere: these names are a wire contract.
func TestValuesMatchFlux(t *testing.T) {
	cases := map[string][2]string{
		"finalizer":            {Finalizer, sourcev1.SourceFinalizer},
		"kustomize finalizer":  {Finalizer, kustomizev1.KustomizationFinalizer},
		"requestedAt":          {ReconcileRequestAnnotation, meta.ReconcileRequestAnnotation},
		"forceAt":              {ForceRequestAnnotation, meta.ForceRequestAnnotation},
		"resetAt":              {ResetRequestAnnotation, "reconcile.fluxcd.io/resetAt"},
		"ready":                {ReadyCondition, meta.ReadyCondition},
		"reconciling":          {ReconcilingCondition, meta.ReconcilingCondition},
		"stalled":              {StalledCondition, meta.StalledCondition},
		"healthy":              {HealthyCondition, meta.HealthyCondition},
		"fetch failed":         {FetchFailedCondition, sourcev1.FetchFailedCondition},
		"artifact in storage":  {ArtifactInStorageCondition, sourcev1.ArtifactInStorageCondition},
		"artifact outdated":    {ArtifactOutdatedCondition, sourcev1.ArtifactOutdatedCondition},
		"source verified":      {SourceVerifiedCondition, sourcev1.SourceVerifiedCondition},
		"include unavailable":  {IncludeUnavailableCondition, sourcev1.IncludeUnavailableCondition},
		"storage failed":       {StorageOperationFailedCondition, sourcev1.StorageOperationFailedCondition},
		"succeeded":            {SucceededReason, meta.SucceededReason},
		"failed":               {FailedReason, meta.FailedReason},
		"progressing":          {ProgressingReason, meta.ProgressingReason},
		"progressing retry":    {ProgressingWithRetryReason, meta.ProgressingWithRetryReason},
		"dependency not ready": {DependencyNotReadyReason, meta.DependencyNotReadyReason},
		"reconciled":           {ReconciliationSucceededReason, meta.ReconciliationSucceededReason},
		"reconcile failed":     {ReconciliationFailedReason, meta.ReconciliationFailedReason},
		"health failed":        {HealthCheckFailedReason, meta.HealthCheckFailedReason},
		"artifact failed":      {ArtifactFailedReason, meta.ArtifactFailedReason},
		"build failed":         {BuildFailedReason, meta.BuildFailedReason},
		"prune failed":         {PruneFailedReason, meta.PruneFailedReason},
		"auth failed":          {AuthenticationFailedReason, sourcev1.AuthenticationFailedReason},
		"git failed":           {GitOperationFailedReason, sourcev1.GitOperationFailedReason},
		"health canceled":      {HealthCheckCanceledReason, meta.HealthCheckCanceledReason},
		"url invalid":          {URLInvalidReason, sourcev1.URLInvalidReason},
		"storage reason":       {InvalidPathReason, meta.InvalidPathReason},
		"new revision":         {NewRevisionReason, "NewRevision"},
		"include change":       {IncludeChangeReason, "IncludeChange"},
		"image failure":        {FailureReason, metav1.StatusFailure},
		"invalid provider":     {InvalidProviderConfigurationReason, sourcev1.InvalidProviderConfigurationReason},
		"field manager":        {KustomizeFieldManager, "kustomize-controller"},
		"prune annotation":     {PruneAnnotation, "kustomize.toolkit.fluxcd.io/prune"},
		"ssa annotation":       {SSAAnnotation, "kustomize.toolkit.fluxcd.io/ssa"},
		"substitute":           {SubstituteAnnotation, "kustomize.toolkit.fluxcd.io/substitute"},
		"name label":           {KustomizeNameLabel, "kustomize.toolkit.fluxcd.io/name"},
		"namespace label":      {KustomizeNamespaceLabel, "kustomize.toolkit.fluxcd.io/namespace"},
		"metric":               {ReconcileDurationMetric, "gotk_reconcile_duration_seconds"},
		"cache metric":         {CacheEventsMetric, "gotk_cache_events_total"},
		"resource info metric": {ResourceInfoMetric, "gotk_resource_info"},
		"commit status key":    {CommitStatusMetaKey, "commit_status"},
		"commit status update": {CommitStatusUpdate, "update"},
	}
	for name, c := range cases {
		if c[0] != c[1] {
			t.Errorf("%s: weir has %q, Flux has %q", name, c[0], c[1])
		}
	}
}
