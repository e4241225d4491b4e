package helmrelease

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"

	"github.com/weirgitops/weir/internal/reconcile"
)

// oldTarget is the release the status records when the spec now names another one: a new
// releaseName, targetNamespace or storageNamespace, or a chart of another name (unless
// spec.upgrade.chartNameChangeStrategy is InPlaceUpdate). It returns the old release's name,
// namespace and storage namespace, and false when the target is unchanged.
func oldTarget(hr *helmv2.HelmRelease, chartName string) (name, namespace, storage string, changed bool) {
	storage = hr.Status.StorageNamespace
	if storage == "" {
		storage = hr.GetStorageNamespace()
	}
	name, namespace = hr.GetReleaseName(), hr.GetReleaseNamespace()
	changed = storage != hr.GetStorageNamespace()
	if cur := hr.Status.History.Latest(); cur != nil {
		name, namespace = cur.Name, cur.Namespace
		changed = changed || cur.Name != hr.GetReleaseName() || cur.Namespace != hr.GetReleaseNamespace() ||
			(cur.ChartName != "" && cur.ChartName != chartName &&
				hr.GetUpgrade().GetChartNameChangeStrategy() == helmv2.ChartNameChangeStrategyReinstall)
	}
	return name, namespace, storage, changed
}

// leaveOldTarget uninstalls the release the status records when the spec names another one,
// as Flux does before installing the new one; the history then starts over.
func (r *Reconciler) leaveOldTarget(ctx context.Context, hr *helmv2.HelmRelease, chartName string) error {
	name, namespace, storage, changed := oldTarget(hr, chartName)
	if !changed {
		return nil
	}
	cfg, err := r.restConfig(ctx, hr)
	if err != nil {
		return err
	}
	ac, err := newActionConfig(cfg, namespace, storage, r.helmLog(hr), nil)
	if err != nil {
		return reconcile.Failed("InitFailed", err)
	}
	if err := r.uninstall(ac, hr, name, true); err != nil {
		return reconcile.Failed(helmv2.UninstallFailedReason,
			fmt.Errorf("Helm uninstall failed for release %s/%s, which the HelmRelease no longer targets: %w", namespace, name, err)) //nolint:staticcheck // Flux's wording
	}
	r.Recorder.Normal(hr, helmv2.UninstallSucceededReason, r.EventMetadata(hr, outcome{}),
		"Helm uninstall succeeded for release %s/%s, which the HelmRelease no longer targets", namespace, name)
	hr.Status.History = nil
	hr.Status.StorageNamespace = hr.GetStorageNamespace()
	hr.Status.Failures, hr.Status.InstallFailures, hr.Status.UpgradeFailures = 0, 0, 0
	return nil
}
