package helmrelease

import (
	"context"
	"errors"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/health"
	"github.com/weirgitops/weir/internal/reconcile"
)

// waitStrategy is how an action waits for the objects it applied: for hooks only when the
// spec disables waiting, with Helm 3's readiness checks when spec.waitStrategy is legacy (or
// unset under the UseHelm3Defaults gate), and with kstatus otherwise (Flux 2.8+'s poller).
func (r *Reconciler) waitStrategy(hr *helmv2.HelmRelease, disableWait bool) kube.WaitStrategy {
	switch {
	case disableWait:
		return kube.HookOnlyStrategy
	case hr.GetWaitStrategy() == helmv2.WaitStrategyLegacy,
		hr.GetWaitStrategy() == "" && r.UseHelm3Defaults:
		return kube.LegacyStrategy
	}
	return kube.StatusWatcherStrategy
}

// waitOptions give the kstatus wait the spec's healthCheckExprs: objects of the kinds they
// cover are healthy when their CEL expressions say so. An expression that does not compile
// stalls the release (InvalidCELExpression), as Flux.
func waitOptions(ctx context.Context, ac *action.Configuration, hr *helmv2.HelmRelease) ([]kube.WaitOption, error) {
	opts := []kube.WaitOption{kube.WithWaitContext(ctx)}
	if len(hr.Spec.HealthCheckExprs) == 0 {
		return opts, nil
	}
	ev, err := health.NewEvaluator(hr.Spec.HealthCheckExprs)
	if err != nil {
		return nil, reconcile.Stalled(compat.InvalidCELExpressionReason, err)
	}
	mapper, err := ac.RESTClientGetter.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	return append(opts, kube.WithKStatusReaders(celReader{ev: ev, mapper: mapper})), nil
}

// serverSideApply maps spec's upgrade and rollback mode to Helm's string: "auto" keeps the
// method the previous release used.
func serverSideApply(mode helmv2.ServerSideApplyMode, helm3 bool) string {
	switch mode {
	case helmv2.ServerSideApplyEnabled:
		return "true"
	case helmv2.ServerSideApplyDisabled:
		return "false"
	case "":
		if helm3 {
			return "false"
		}
	}
	return "auto"
}

// runAction runs install or upgrade with the spec's options.
func (r *Reconciler) runAction(ctx context.Context, ac *action.Configuration, hr *helmv2.HelmRelease, act helmv2.ReleaseAction,
	ch *chart.Chart, values map[string]any, last *releasev1.Release) (*releasev1.Release, error) {
	wait, err := waitOptions(ctx, ac, hr)
	if err != nil {
		return nil, err
	}
	if act == helmv2.ReleaseActionInstall {
		opts := hr.GetInstall()
		in := action.NewInstall(ac)
		in.ReleaseName, in.Namespace = hr.GetReleaseName(), hr.GetReleaseNamespace()
		in.Timeout = opts.GetTimeout(hr.GetTimeout()).Duration
		in.CreateNamespace, in.Replace, in.DisableHooks = opts.CreateNamespace, opts.Replace, opts.DisableHooks
		in.DisableOpenAPIValidation, in.SkipSchemaValidation = opts.DisableOpenAPIValidation, opts.DisableSchemaValidation
		in.WaitStrategy, in.WaitOptions = r.waitStrategy(hr, opts.DisableWait), wait
		in.WaitForJobs = !opts.DisableWait && !opts.DisableWaitForJobs
		in.ServerSideApply = !r.UseHelm3Defaults
		if opts.ServerSideApply != nil {
			in.ServerSideApply = *opts.ServerSideApply
		}
		in.TakeOwnership = !opts.DisableTakeOwnership
		// Fields that others took over (kubectl edits) are taken back, as Flux does.
		in.ForceConflicts = in.ServerSideApply
		in.EnableDNS = r.AllowDNSLookups
		in.PostRenderer, in.PostRenderStrategy = newPostRenderer(ctx, r.TempDir, hr), r.postRenderStrategy(hr)
		// Create is Helm's own CRD handling; Skip and CreateReplace leave CRDs to weir.
		policy := crdPolicy(hr, act)
		in.SkipCRDs = policy != helmv2.Create
		if policy == helmv2.CreateReplace {
			if err := r.applyCRDs(ctx, hr, ch, policy); err != nil {
				return nil, err
			}
		}
		if last != nil { // uninstalled with history kept
			in.Replace = true
		}
		rel, err := in.RunWithContext(ctx, ch, values)
		return asRelease(rel), err
	}
	opts := hr.GetUpgrade()
	up := action.NewUpgrade(ac)
	up.Namespace = hr.GetReleaseNamespace()
	up.Timeout = opts.GetTimeout(hr.GetTimeout()).Duration
	up.DisableHooks, up.DisableOpenAPIValidation, up.SkipSchemaValidation = opts.DisableHooks, opts.DisableOpenAPIValidation, opts.DisableSchemaValidation
	up.CleanupOnFail, up.ForceReplace, up.ReuseValues = opts.CleanupOnFail, opts.Force, opts.PreserveValues
	up.WaitStrategy, up.WaitOptions = r.waitStrategy(hr, opts.DisableWait), wait
	up.WaitForJobs = !opts.DisableWait && !opts.DisableWaitForJobs
	up.MaxHistory = hr.GetMaxHistory()
	up.TakeOwnership = !opts.DisableTakeOwnership
	up.ServerSideApply = serverSideApply(opts.ServerSideApply, r.UseHelm3Defaults)
	up.ForceConflicts = up.ServerSideApply != "false"
	up.EnableDNS = r.AllowDNSLookups
	// Helm's upgrade never touches CRDs: weir creates (and with CreateReplace updates) them first.
	up.SkipCRDs = true
	if policy := crdPolicy(hr, act); policy != helmv2.Skip {
		if err := r.applyCRDs(ctx, hr, ch, policy); err != nil {
			return nil, err
		}
	}
	up.PostRenderer, up.PostRenderStrategy = newPostRenderer(ctx, r.TempDir, hr), r.postRenderStrategy(hr)
	rel, err := up.RunWithContext(ctx, hr.GetReleaseName(), ch, values)
	return asRelease(rel), err
}

// rollback rolls the release back to version with spec.rollback's options.
func (r *Reconciler) rollback(ctx context.Context, ac *action.Configuration, hr *helmv2.HelmRelease, version int) error {
	wait, err := waitOptions(ctx, ac, hr)
	if err != nil {
		return err
	}
	opts := hr.GetRollback()
	rb := action.NewRollback(ac)
	rb.Version = version
	rb.Timeout = opts.GetTimeout(hr.GetTimeout()).Duration
	rb.CleanupOnFail, rb.DisableHooks, rb.ForceReplace = opts.CleanupOnFail, opts.DisableHooks, opts.Force
	rb.WaitStrategy, rb.WaitOptions = r.waitStrategy(hr, opts.DisableWait), wait
	rb.WaitForJobs = !opts.DisableWait && !opts.DisableWaitForJobs
	rb.MaxHistory = hr.GetMaxHistory()
	rb.ServerSideApply = serverSideApply(opts.ServerSideApply, r.UseHelm3Defaults)
	rb.ForceConflicts = rb.ServerSideApply != "false"
	return rb.Run(hr.GetReleaseName())
}

// uninstall removes the release name with spec.uninstall's options; wait false only waits for
// hooks (remediation does not wait out the deletion).
func (r *Reconciler) uninstall(ac *action.Configuration, hr *helmv2.HelmRelease, name string, wait bool) error {
	opts := hr.GetUninstall()
	u := action.NewUninstall(ac)
	u.Timeout = opts.GetTimeout(hr.GetTimeout()).Duration
	u.DisableHooks, u.KeepHistory = opts.DisableHooks, opts.KeepHistory
	u.DeletionPropagation = opts.GetDeletionPropagation()
	u.WaitStrategy = r.waitStrategy(hr, opts.DisableWait || !wait)
	if _, err := u.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return err
	}
	return nil
}

// crdPolicy is spec.install.crds or spec.upgrade.crds with Flux's defaults: Create on install
// (Skip when the deprecated skipCRDs is set), Skip on upgrade.
func crdPolicy(hr *helmv2.HelmRelease, act helmv2.ReleaseAction) helmv2.CRDsPolicy {
	if act == helmv2.ReleaseActionInstall {
		opts := hr.GetInstall()
		switch {
		case opts.CRDs != "":
			return opts.CRDs
		case opts.SkipCRDs:
			return helmv2.Skip
		}
		return helmv2.Create
	}
	if p := hr.GetUpgrade().CRDs; p != "" {
		return p
	}
	return helmv2.Skip
}
