package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/depends"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/health"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/sourceref"
	"github.com/weirgitops/weir/internal/target"
)

// ControllerName is the reporting controller of HelmRelease events, Flux's name for it.
const ControllerName = "helm-controller"

const (
	chartSourceIndex = ".spec.chartSource"
	valuesFromIndex  = ".spec.valuesFrom"
	defaultTimeout   = 5 * time.Minute
	// historyCap bounds status.history when maxHistory is 0 (unlimited releases).
	historyCap = 10
)

// Reconciler reconciles helm.toolkit.fluxcd.io/v2 HelmReleases.
type Reconciler struct {
	client.Client
	Store    *artifact.Store
	Recorder *event.Recorder
	Retry    *reconcile.Retry
	// Targets builds the configuration to act with: impersonation, kubeConfig.
	Targets *target.Factory
	// RequeueDependency is how soon a release whose chart is not ready looks again.
	RequeueDependency    time.Duration
	NoCrossNamespaceRefs bool
	// TempDir is where post-renderers work; the system temporary directory when empty.
	TempDir string
	// AdditiveCELDependencyCheck is Flux's gate: a readyExpr adds to the built-in readiness.
	AdditiveCELDependencyCheck bool
	// UseHelm3Defaults is Flux's gate: client-side apply, legacy wait and the nohooks
	// post-render strategy where the spec does not say otherwise.
	UseHelm3Defaults bool
	// DefaultToRetryOnFailure is Flux's gate: RetryOnFailure where the spec names no strategy.
	DefaultToRetryOnFailure bool
	// DisableChartDigestTracking is Flux's gate: an OCIRepository chart's revision is its
	// version alone, so a new digest of the same version does not upgrade.
	DisableChartDigestTracking bool
	// AllowDNSLookups is Flux's gate: templates may resolve host names (getHostByName).
	AllowDNSLookups bool
	// ConfigsSelector, when set, limits the valuesFrom ConfigMaps and Secrets whose changes
	// trigger their HelmReleases (--watch-configs-label-selector); nil watches all.
	ConfigsSelector labels.Selector
	// Log receives the Helm SDK's log.
	Log logr.Logger

	actions running
}

// SetupWithManager registers the reconciler with the manager.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrent int) error {
	if r.Targets == nil {
		r.Targets = &target.Factory{Base: mgr.GetConfig(), Reader: mgr.GetAPIReader()}
	}
	if r.Targets.New == nil {
		r.Targets.New = func(cfg *rest.Config) (client.Client, error) {
			return client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
		}
	}
	// Helm's field manager is a process-wide setting; Flux's name keeps fields' ownership
	// continuous for releases it installed.
	kube.ManagedFieldsManager = compat.HelmFieldManager
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &helmv2.HelmRelease{}, chartSourceIndex, func(o client.Object) []string {
		hr := o.(*helmv2.HelmRelease)
		if hr.HasChartRef() {
			ns := hr.Spec.ChartRef.Namespace
			if ns == "" {
				ns = hr.Namespace
			}
			return []string{hr.Spec.ChartRef.Kind + "/" + ns + "/" + hr.Spec.ChartRef.Name}
		}
		if hr.HasChartTemplate() {
			ns := hr.Spec.Chart.Spec.SourceRef.Namespace
			if ns == "" {
				ns = hr.Namespace
			}
			return []string{sourcev1.HelmChartKind + "/" + ns + "/" + hr.GetHelmChartName()}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index %s: %w", chartSourceIndex, err)
	}
	if err := idx.IndexField(ctx, &helmv2.HelmRelease{}, valuesFromIndex, func(o client.Object) []string {
		hr := o.(*helmv2.HelmRelease)
		keys := make([]string, 0, len(hr.Spec.ValuesFrom))
		for _, v := range hr.Spec.ValuesFrom {
			keys = append(keys, v.Kind+"/"+hr.Namespace+"/"+v.Name)
		}
		return keys
	}); err != nil {
		return fmt.Errorf("index %s: %w", valuesFromIndex, err)
	}
	if err := idx.IndexField(ctx, &helmv2.HelmRelease{}, dependsOnIndex, func(o client.Object) []string {
		return depends.IndexKeys(o, dependsOn(o.(*helmv2.HelmRelease)))
	}); err != nil {
		return fmt.Errorf("index %s: %w", dependsOnIndex, err)
	}
	by := func(index string, key func(client.Object) string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			var list helmv2.HelmReleaseList
			if err := r.List(ctx, &list, client.MatchingFields{index: key(o)}); err != nil {
				return nil
			}
			reqs := make([]ctrl.Request, 0, len(list.Items))
			for _, hr := range list.Items {
				key := types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}
				switch index {
				case chartSourceIndex:
					// A new chart: an action still waiting on the old one ends.
					r.actions.interruptUnless(key, reconcile.ArtifactID(o))
				case valuesFromIndex:
					r.actions.interrupt(key)
				}
				reqs = append(reqs, ctrl.Request{NamespacedName: key})
			}
			return reqs
		})
	}
	kindKey := func(kind string) func(client.Object) string {
		return func(o client.Object) string { return kind + "/" + o.GetNamespace() + "/" + o.GetName() }
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("helmrelease").
		For(&helmv2.HelmRelease{}, builder.WithPredicates(predicate.Or[client.Object](
			specChanged{r: &r.actions}, reconcile.ReconcileRequested{}))).
		Watches(&sourcev1.HelmChart{}, by(chartSourceIndex, kindKey(sourcev1.HelmChartKind)), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.OCIRepository{}, by(chartSourceIndex, kindKey(sourcev1.OCIRepositoryKind)), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.ExternalArtifact{}, by(chartSourceIndex, kindKey(sourcev1.ExternalArtifactKind)), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&helmv2.HelmRelease{}, by(dependsOnIndex, func(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }),
			builder.WithPredicates(becameReady{})).
		Watches(&corev1.ConfigMap{}, by(valuesFromIndex, kindKey("ConfigMap")), builder.OnlyMetadata,
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}, reconcile.LabelsMatch(r.ConfigsSelector))).
		Watches(&corev1.Secret{}, by(valuesFromIndex, kindKey("Secret")), builder.OnlyMetadata,
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}, reconcile.LabelsMatch(r.ConfigsSelector))).
		WithOptions(ctrlOptions(concurrent)).
		Complete(&reconcile.Skeleton[*helmv2.HelmRelease, outcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: helmv2.GroupVersion, Kind: helmv2.HelmReleaseKind,
			New: func() *helmv2.HelmRelease { return &helmv2.HelmRelease{} }, Steps: r,
		})
}

// outcome is what one run of a HelmRelease's steps did.
type outcome struct {
	err error
	// action is the Helm action that ran ("" when the release was in sync).
	action helmv2.ReleaseAction
	// message is the Released message of a successful action.
	message string
	// retryAfter is when a failed action with the RetryOnFailure strategy is tried again.
	retryAfter time.Duration
	// remediated is set when this run remediated a failed action (Ready then says how, as
	// Flux's); exhausted when the retries are used up (Stalled=True RetriesExceeded).
	remediated, exhausted bool
}

// Err returns the failure, nil on success.
func (o outcome) Err() error { return o.err }

// Fields returns the HelmRelease's fields the skeleton reads and writes.
func (r *Reconciler) Fields(hr *helmv2.HelmRelease) reconcile.Fields {
	return reconcile.Fields{
		Conditions: &hr.Status.Conditions, ObservedGeneration: &hr.Status.ObservedGeneration,
		LastHandledReconcileAt: &hr.Status.LastHandledReconcileAt, Suspended: hr.Spec.Suspend,
		Interval: hr.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: hr.Status.LastAttemptedRevision,
	}
}

// Summarize writes the outcome into Ready (Released is written by the steps).
func (r *Reconciler) Summarize(hr *helmv2.HelmRelease, out outcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &hr.Status.Conditions, Generation: hr.Generation}
	if out.err == nil {
		if c := conds.Get(helmv2.TestSuccessCondition); hr.GetTest().Enable && c != nil && c.Status == metav1.ConditionTrue {
			conds.Ready(c.Reason, c.Message)
			return
		}
		if c := conds.Get(helmv2.ReleasedCondition); c != nil && c.Status == metav1.ConditionTrue {
			conds.Ready(c.Reason, c.Message)
			return
		}
		conds.Ready(compat.SucceededReason, "release in sync")
		return
	}
	reason, msg := reconcile.Reason(out.err, compat.FailedReason), out.err.Error()
	if c := conds.Get(helmv2.RemediatedCondition); out.remediated && c != nil {
		// Flux's Ready speaks of the remediation first, then of the release.
		reason, msg = c.Reason, c.Message
	}
	conds.NotReady(reason, msg, reconcile.IsStalled(out.err))
	if out.exhausted {
		act := hr.Status.LastAttemptedReleaseAction
		failures := hr.Status.InstallFailures
		if act == helmv2.ReleaseActionUpgrade {
			failures = hr.Status.UpgradeFailures
		}
		conds.True(compat.StalledCondition, "RetriesExceeded", fmt.Sprintf("Failed to %s after %d attempt(s)", act, failures))
	}
}

// Report records the successful action's event, as Flux words it.
func (r *Reconciler) Report(hr *helmv2.HelmRelease, out outcome, _ time.Duration) {
	if out.err != nil || out.action == "" {
		return
	}
	reason := helmv2.InstallSucceededReason
	if out.action == helmv2.ReleaseActionUpgrade {
		reason = helmv2.UpgradeSucceededReason
	}
	r.Recorder.Normal(hr, reason, r.EventMetadata(hr, out), "%s", out.message)
}

// EventMetadata annotates events as Flux does: the chart revision, the config digest as the
// token (events of another values set are not duplicates), the chart's app version and the
// OCI digest when there is one.
func (r *Reconciler) EventMetadata(hr *helmv2.HelmRelease, _ outcome) map[string]string {
	if hr.Status.LastAttemptedRevision == "" {
		return nil
	}
	meta := map[string]string{compat.RevisionMetaKey: hr.Status.LastAttemptedRevision}
	if hr.Status.LastAttemptedConfigDigest != "" {
		meta[compat.TokenMetaKey] = hr.Status.LastAttemptedConfigDigest
	}
	if cur := hr.Status.History.Latest(); cur != nil {
		if cur.AppVersion != "" {
			meta["app-version"] = cur.AppVersion
		}
		if cur.OCIDigest != "" {
			meta["oci-digest"] = cur.OCIDigest
		}
	}
	return meta
}

// Requeue keeps the skeleton's decision, except after a failure under RetryOnFailure: that is
// tried again after the strategy's retryInterval.
func (r *Reconciler) Requeue(_ *helmv2.HelmRelease, out outcome, res ctrl.Result) ctrl.Result {
	if out.retryAfter > 0 {
		return ctrl.Result{RequeueAfter: out.retryAfter}
	}
	return res
}

// Forget has nothing to drop.
func (r *Reconciler) Forget(types.NamespacedName) {}

// Finalize uninstalls the release, unless the HelmRelease is suspended (as Flux), and deletes
// the HelmChart its spec.chart created.
func (r *Reconciler) Finalize(ctx context.Context, hr *helmv2.HelmRelease) error {
	if !hr.Spec.Suspend {
		ac, err := r.actionConfig(ctx, hr)
		switch {
		case err != nil && hr.Spec.KubeConfig != nil && apierrors.IsNotFound(err):
			// The remote cluster's kubeconfig is gone: nothing can be uninstalled there, and
			// the HelmRelease must not hang in deletion (Flux skips the uninstall too).
			r.Recorder.Warning(hr, helmv2.UninstallFailedReason, nil,
				"skipped the uninstall of release %s: the kubeConfig Secret is gone (%s)", releaseID(hr), err)
			ac = nil
		case err != nil:
			return err
		}
		if ac != nil {
			if _, err := ac.Releases.Last(hr.GetReleaseName()); err == nil {
				if err := r.uninstall(ac, hr, hr.GetReleaseName(), true); err != nil {
					return reconcile.Failed(helmv2.UninstallFailedReason, fmt.Errorf("Helm uninstall failed for release %s: %w", releaseID(hr), err)) //nolint:staticcheck // Flux's message
				}
			}
		}
	}
	// A suspended HelmRelease leaves its HelmChart too, as Flux.
	if !hr.Spec.Suspend && hr.Status.HelmChart != "" {
		ns, name := splitKey(hr.Status.HelmChart)
		hc := &sourcev1.HelmChart{}
		hc.Namespace, hc.Name = ns, name
		if err := r.Delete(ctx, hc); client.IgnoreNotFound(err) != nil {
			return reconcile.Failed(compat.FailedReason, fmt.Errorf("delete HelmChart %s: %w", hr.Status.HelmChart, err))
		}
	}
	return nil
}

func splitKey(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}

// releaseID is <namespace>/<name> of the release.
func releaseID(hr *helmv2.HelmRelease) string {
	return hr.GetReleaseNamespace() + "/" + hr.GetReleaseName()
}

func (r *Reconciler) actionConfig(ctx context.Context, hr *helmv2.HelmRelease) (*action.Configuration, error) {
	cfg, err := r.restConfig(ctx, hr)
	if err != nil {
		return nil, err
	}
	ac, err := newActionConfig(cfg, hr.GetReleaseNamespace(), hr.GetStorageNamespace(), r.helmLog(hr),
		map[string]string{nameLabel: hr.Name, namespaceLabel: hr.Namespace})
	if err != nil {
		return nil, reconcile.Failed("InitFailed", err)
	}
	return ac, nil
}

// restConfig is the configuration the release is acted on with: impersonation, kubeConfig.
func (r *Reconciler) restConfig(ctx context.Context, hr *helmv2.HelmRelease) (*rest.Config, error) {
	return r.Targets.RESTConfig(ctx, target.Spec{Namespace: hr.Namespace, ServiceAccountName: hr.Spec.ServiceAccountName, KubeConfig: hr.Spec.KubeConfig})
}

// helmLog is the Helm SDK's logger for the release.
func (r *Reconciler) helmLog(hr *helmv2.HelmRelease) *slog.Logger {
	return slog.New(logr.ToSlogHandler(r.Log.WithValues("helmrelease", hr.Namespace+"/"+hr.Name)))
}

// Run resolves the chart, composes the values, and installs, upgrades or leaves the release.
func (r *Reconciler) Run(ctx context.Context, hr *helmv2.HelmRelease, progress func(string)) outcome {
	if err := r.checkDependencies(ctx, hr); err != nil {
		return outcome{err: err}
	}
	src, err := r.source(ctx, hr)
	if err != nil {
		return outcome{err: err}
	}
	ch, err := r.loadChart(ctx, src)
	if err != nil {
		return outcome{err: err}
	}
	values, err := composeValues(ctx, r.Client, hr)
	if err != nil {
		return outcome{err: reconcile.Failed("ValuesError", err)}
	}
	digest, revision := configDigest(values), chartRevision(src, ch, r.DisableChartDigestTracking)
	if src.kind == sourcev1.OCIRepositoryKind && !r.DisableChartDigestTracking {
		// Flux's digest tracking: the chart is released as <version>+<digest prefix>, so that a
		// new digest of the same version is an upgrade and Helm's records say which one.
		ch.Metadata.Version = revision
	}
	if hr.Status.LastAttemptedRevision != revision || hr.Status.LastAttemptedConfigDigest != digest ||
		hr.Status.LastAttemptedGeneration != hr.Generation {
		// A new chart, new values or a new spec: a fresh start for the failure counters.
		hr.Status.Failures, hr.Status.InstallFailures, hr.Status.UpgradeFailures = 0, 0, 0
	}
	if reset := hr.GetAnnotations()[compat.ResetRequestAnnotation]; reset != "" && reset != hr.Status.LastHandledResetAt {
		hr.Status.Failures, hr.Status.InstallFailures, hr.Status.UpgradeFailures = 0, 0, 0
		hr.Status.LastHandledResetAt = reset
	}
	if len(hr.Spec.HealthCheckExprs) > 0 {
		if _, err := health.NewEvaluator(hr.Spec.HealthCheckExprs); err != nil {
			return outcome{err: reconcile.Stalled(compat.InvalidCELExpressionReason, err)}
		}
	}
	if err := r.leaveOldTarget(ctx, hr, ch.Name()); err != nil {
		return outcome{err: err}
	}
	ac, err := r.actionConfig(ctx, hr)
	if err != nil {
		return outcome{err: err}
	}
	name := hr.GetReleaseName()
	hr.Status.StorageNamespace = hr.GetStorageNamespace()
	last, err := lastRelease(ac, name)
	if err != nil {
		return outcome{err: reconcile.Failed(compat.FailedReason, fmt.Errorf("failed to read release history: %w", err))}
	}
	if last != nil && last.Info.Status.IsPending() {
		// A crash left the release locked: mark it failed, then go on as after a failure.
		last.SetStatus(common.StatusFailed, fmt.Sprintf("Release unlocked from stale '%s' state", last.Info.Status))
		if err := ac.Releases.Update(last); err != nil {
			return outcome{err: reconcile.Failed(compat.FailedReason, fmt.Errorf("failed to unlock release %s: %w", releaseID(hr), err))}
		}
	}
	force := false
	if f := hr.GetAnnotations()[compat.ForceRequestAnnotation]; f != "" && f == hr.GetAnnotations()[compat.ReconcileRequestAnnotation] &&
		f != hr.Status.LastHandledForceAt {
		force = true
		hr.Status.LastHandledForceAt = f
	}
	act, inSync := nextAction(hr, last, ch, digest, revision, force)
	if inSync {
		return r.inSync(ctx, ac, hr, last, ch)
	}
	if out, stop := r.exhausted(hr, act); stop {
		return out
	}
	hr.Status.LastAttemptedRevision, hr.Status.LastAttemptedConfigDigest = revision, digest
	hr.Status.LastAttemptedGeneration, hr.Status.LastAttemptedReleaseAction = hr.Generation, act
	if src.kind == sourcev1.OCIRepositoryKind {
		hr.Status.LastAttemptedRevisionDigest = ociDigest(src)
	}
	timeout := hr.GetTimeout().Duration
	progress(fmt.Sprintf("Running '%s' action with timeout of %s", act, timeout))
	start := time.Now()
	key := types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}
	actx, done := r.actions.start(ctx, key, src.artifact.Revision+"|"+src.artifact.Digest)
	// A newer chart whose event came before the action registered found nothing to
	// interrupt; the cache already holds it, so look once more now that the action is known.
	if cur, err := sourceref.Artifact(ctx, r.Client, r.Scheme(), sourceref.Ref{Kind: src.kind, Namespace: src.namespace, Name: src.name}); err == nil && cur != nil {
		r.actions.interruptUnless(key, cur.Revision+"|"+cur.Digest)
	}
	rel, err := r.runAction(actx, ac, hr, act, ch, values, last)
	interrupted := errors.Is(context.Cause(actx), errInterrupted)
	done()
	hr.Status.LastAttemptedReleaseActionDuration = &metav1.Duration{Duration: time.Since(start).Round(time.Millisecond)}
	if rel != nil {
		recordSnapshot(hr, rel, act, src)
	}
	conds := reconcile.Conditions{List: &hr.Status.Conditions, Generation: hr.Generation}
	chartRef := ch.Metadata.Name + "@" + ch.Metadata.Version
	if err != nil && interrupted {
		// Helm marked the release failed; the next reconcile, at once, acts on what is new.
		msg := fmt.Sprintf("Helm %s of release %s with chart %s %s", act, releaseID(hr), chartRef, errInterrupted)
		conds.False(helmv2.ReleasedCondition, compat.ProgressingReason, msg)
		return outcome{err: reconcile.Waiting(compat.ProgressingReason, time.Millisecond, errors.New(msg))}
	}
	if err != nil {
		return r.failed(ctx, ac, hr, act, chartRef, err, false)
	}
	msg := fmt.Sprintf("Helm %s succeeded for release %s.v%d with chart %s", act, releaseID(hr), rel.Version, chartRef)
	reason := helmv2.InstallSucceededReason
	if act == helmv2.ReleaseActionUpgrade {
		reason = helmv2.UpgradeSucceededReason
	}
	conds.True(helmv2.ReleasedCondition, reason, msg)
	conds.Delete(helmv2.RemediatedCondition)
	hr.Status.Inventory = inventory(rel, r.RESTMapper())
	hr.Status.ObservedPostRenderersDigest, hr.Status.ObservedCommonMetadataDigest = postRenderersDigest(hr), commonMetadataDigest(hr)
	if _, terr := r.runTests(ac, hr); terr != nil && !testsIgnored(hr, act) {
		return r.failed(ctx, ac, hr, act, chartRef, terr, true)
	}
	return outcome{action: act, message: msg}
}

// nextAction decides what the release needs, as Flux's release states do: install when there
// is none (or it was uninstalled); upgrade when the release is not deployed, is not the one the
// status last recorded (none recorded: a release weir does not manage yet; another version: a
// helm CLI upgrade or rollback), or the chart, the values, the post-renderers or the common
// metadata changed, or on a force request; inSync when nothing calls for an action.
func nextAction(hr *helmv2.HelmRelease, last *releasev1.Release, ch *chart.Chart, digest, revision string, force bool) (helmv2.ReleaseAction, bool) {
	if last == nil || last.Info.Status == common.StatusUninstalled {
		return helmv2.ReleaseActionInstall, false
	}
	cur := hr.Status.History.Latest()
	switch {
	case force, last.Info.Status != common.StatusDeployed,
		cur == nil || cur.Name != last.Name || cur.Version != last.Version,
		last.Chart == nil || last.Chart.Metadata == nil || last.Chart.Metadata.Name != ch.Metadata.Name ||
			last.Chart.Metadata.Version != ch.Metadata.Version,
		configDigest(last.Config) != digest, hr.Status.LastAttemptedRevision != revision,
		hr.Status.ObservedPostRenderersDigest != postRenderersDigest(hr),
		hr.Status.ObservedCommonMetadataDigest != commonMetadataDigest(hr):
		return helmv2.ReleaseActionUpgrade, false
	}
	return "", true
}

// inSync handles a release that needs no install or upgrade: its tests run if they are enabled
// and have not run on it (Flux's Untested state), a failed test that is not ignored keeps it
// failed, and drift is detected and corrected.
func (r *Reconciler) inSync(ctx context.Context, ac *action.Configuration, hr *helmv2.HelmRelease, last *releasev1.Release, ch *chart.Chart) outcome {
	if hr.GetTest().Enable {
		act := hr.Status.LastAttemptedReleaseAction
		if act == "" {
			act = helmv2.ReleaseActionInstall
		}
		cur := hr.Status.History.Latest()
		switch {
		case !cur.HasBeenTested():
			if _, terr := r.runTests(ac, hr); terr != nil && !testsIgnored(hr, act) {
				return r.failed(ctx, ac, hr, act, ch.Metadata.Name+"@"+ch.Metadata.Version, terr, true)
			}
		case cur.HasTestInPhase(releasev1.HookPhaseFailed.String()) && !testsIgnored(hr, act):
			return outcome{err: reconcile.Failed(helmv2.TestFailedReason,
				fmt.Errorf("release %s has a test in failed phase", releaseID(hr)))}
		}
	}
	if err := r.correctDrift(ctx, hr, last); err != nil {
		return outcome{err: err}
	}
	return outcome{}
}

// testsIgnored reports whether test failures after act leave the release successful.
func testsIgnored(hr *helmv2.HelmRelease, act helmv2.ReleaseAction) bool {
	t := hr.GetTest()
	if act == helmv2.ReleaseActionInstall {
		return t.IgnoreFailures || hr.GetInstall().GetRemediation().MustIgnoreTestFailures(t.IgnoreFailures)
	}
	return t.IgnoreFailures || hr.GetUpgrade().GetRemediation().MustIgnoreTestFailures(t.IgnoreFailures)
}

// lastRelease is the newest release record, nil when there is none.
func lastRelease(ac *action.Configuration, name string) (*releasev1.Release, error) {
	r, err := ac.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("unsupported release record %T", r)
	}
	return rel, nil
}

func asRelease(r any) *releasev1.Release {
	rel, _ := r.(*releasev1.Release)
	return rel
}

// recordSnapshot puts the release at the head of status.history.
func recordSnapshot(hr *helmv2.HelmRelease, rel *releasev1.Release, act helmv2.ReleaseAction, src chartSource) {
	s := &helmv2.Snapshot{
		APIVersion: "v1", Name: rel.Name, Namespace: rel.Namespace, Version: rel.Version,
		Status: rel.Info.Status.String(), Action: act, ConfigDigest: snapshotConfigDigest(rel.Config),
		FirstDeployed: metav1.NewTime(rel.Info.FirstDeployed), LastDeployed: metav1.NewTime(rel.Info.LastDeployed),
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		s.ChartName, s.ChartVersion, s.AppVersion = rel.Chart.Metadata.Name, rel.Chart.Metadata.Version, rel.Chart.Metadata.AppVersion
	}
	if src.kind == sourcev1.OCIRepositoryKind && src.artifact != nil {
		s.OCIDigest = ociDigest(src)
	}
	s.Digest = releaseDigest(rel, s.OCIDigest)
	hist := helmv2.Snapshots{s}
	for _, old := range hr.Status.History {
		if old.Version != s.Version || old.Name != s.Name {
			hist = append(hist, old)
		}
	}
	limit := hr.GetMaxHistory()
	if limit <= 0 || limit > historyCap {
		limit = historyCap
	}
	if len(hist) > limit {
		hist = hist[:limit]
	}
	hr.Status.History = hist
}

// retryStrategy is the RetryOnFailure strategy of the action, nil when the action remediates
// on failure (Flux's default, unless the DefaultToRetryOnFailure gate is on).
func (r *Reconciler) retryStrategy(hr *helmv2.HelmRelease, act helmv2.ReleaseAction) helmv2.Retry {
	if act == helmv2.ReleaseActionInstall {
		return hr.GetInstall().GetRetry(r.DefaultToRetryOnFailure)
	}
	return hr.GetUpgrade().GetRetry(r.DefaultToRetryOnFailure)
}

// exhausted stops a release whose remediation retries are used up: Flux leaves it failed until
// something changes (chart, values, spec) or a reset is requested. RetryOnFailure never stops.
func (r *Reconciler) exhausted(hr *helmv2.HelmRelease, act helmv2.ReleaseAction) (outcome, bool) {
	if r.retryStrategy(hr, act) != nil {
		return outcome{}, false
	}
	var retries int
	var failures int64
	if act == helmv2.ReleaseActionInstall {
		rem := hr.GetInstall().GetRemediation()
		retries, failures = rem.GetRetries(), hr.Status.InstallFailures
	} else {
		rem := hr.GetUpgrade().GetRemediation()
		retries, failures = rem.GetRetries(), hr.Status.UpgradeFailures
	}
	if failures == 0 || retries < 0 || failures <= int64(retries) {
		return outcome{}, false
	}
	c := (reconcile.Conditions{List: &hr.Status.Conditions, Generation: hr.Generation}).Get(helmv2.ReleasedCondition)
	reason, msg := "RetriesExceeded", fmt.Sprintf("Failed to %s after %d attempt(s)", act, failures)
	if c != nil && c.Status == metav1.ConditionFalse {
		reason, msg = c.Reason, c.Message
	}
	return outcome{err: reconcile.Stalled(reason, errors.New(msg)), exhausted: true}, true
}

// failed records a failed action and then, as the spec says, either remediates (a failed
// install is uninstalled, a failed upgrade rolled back or uninstalled, while retries remain)
// or, with RetryOnFailure, leaves the release as it is and tries again after retryInterval (a
// failed install is retried as an upgrade).
func (r *Reconciler) failed(ctx context.Context, ac *action.Configuration, hr *helmv2.HelmRelease, act helmv2.ReleaseAction, chartRef string, err error, testFailure bool) outcome {
	conds := reconcile.Conditions{List: &hr.Status.Conditions, Generation: hr.Generation}
	reason := helmv2.InstallFailedReason
	if act == helmv2.ReleaseActionUpgrade {
		reason = helmv2.UpgradeFailedReason
	}
	msg := fmt.Sprintf("Helm %s failed for release %s with chart %s: %s", act, releaseID(hr), chartRef, err)
	if testFailure {
		// The release went out; its tests failed (TestSuccess=False says how).
		reason, msg = helmv2.TestFailedReason, err.Error()
	} else {
		conds.False(helmv2.ReleasedCondition, reason, msg)
	}
	hr.Status.Failures++
	if act == helmv2.ReleaseActionInstall {
		hr.Status.InstallFailures++
	} else {
		hr.Status.UpgradeFailures++
	}
	if retry := r.retryStrategy(hr, act); retry != nil {
		return outcome{err: reconcile.Failed(reason, errors.New(msg)), retryAfter: retry.GetRetryInterval()}
	}
	var (
		retries  int
		strategy helmv2.RemediationStrategy
		last     bool
		failures int64
	)
	if act == helmv2.ReleaseActionInstall {
		rem := hr.GetInstall().GetRemediation()
		retries, strategy, last, failures = rem.GetRetries(), helmv2.UninstallRemediationStrategy, rem.MustRemediateLastFailure(), hr.Status.InstallFailures
	} else {
		rem := hr.GetUpgrade().GetRemediation()
		retries, strategy, last, failures = rem.GetRetries(), rem.GetStrategy(), rem.MustRemediateLastFailure(), hr.Status.UpgradeFailures
	}
	// Retries used up: the release stays failed (remediated first when remediateLastFailure)
	// until the chart, the values or the spec change, or a reset is requested.
	exhausted := retries >= 0 && failures > int64(retries)
	remediated := false
	fail := func() outcome {
		if exhausted {
			return outcome{err: reconcile.Stalled(reason, errors.New(msg)), remediated: remediated, exhausted: true}
		}
		return outcome{err: reconcile.Failed(reason, errors.New(msg)), remediated: remediated}
	}
	if retries == 0 || (exhausted && !last) {
		return fail()
	}
	name := hr.GetReleaseName()
	if strategy == helmv2.RollbackRemediationStrategy {
		if prev := previousDeployed(ac, name); prev > 0 {
			target := fmt.Sprintf("%s.v%d", releaseID(hr), prev)
			if rel, err := ac.Releases.Get(name, prev); err == nil {
				target += " with chart " + chartOf(asRelease(rel))
			}
			remediated = true
			if rerr := r.rollback(ctx, ac, hr, prev); rerr != nil {
				msg := fmt.Sprintf("Helm rollback to previous release %s failed: %s", target, rerr)
				conds.False(helmv2.RemediatedCondition, helmv2.RollbackFailedReason, msg)
				r.Recorder.Warning(hr, helmv2.RollbackFailedReason, r.EventMetadata(hr, outcome{}), "%s", msg)
			} else {
				msg := fmt.Sprintf("Helm rollback to previous release %s succeeded", target)
				conds.True(helmv2.RemediatedCondition, helmv2.RollbackSucceededReason, msg)
				r.Recorder.Normal(hr, helmv2.RollbackSucceededReason, r.EventMetadata(hr, outcome{}), "%s", msg)
				if rel, err := lastRelease(ac, name); err == nil && rel != nil {
					recordSnapshot(hr, rel, helmv2.ReleaseActionUpgrade, chartSource{})
				}
			}
			return fail()
		}
	}
	failed := releaseID(hr)
	if rel, err := lastRelease(ac, name); err == nil && rel != nil {
		failed = fmt.Sprintf("%s.v%d with chart %s", releaseID(hr), rel.Version, chartOf(rel))
	}
	remediated = true
	if uerr := r.uninstall(ac, hr, name, false); uerr != nil {
		msg := fmt.Sprintf("Helm uninstall remediation for release %s failed: %s", failed, uerr)
		conds.False(helmv2.RemediatedCondition, helmv2.UninstallFailedReason, msg)
		r.Recorder.Warning(hr, helmv2.UninstallFailedReason, r.EventMetadata(hr, outcome{}), "%s", msg)
	} else {
		msg := fmt.Sprintf("Helm uninstall remediation for release %s succeeded", failed)
		conds.True(helmv2.RemediatedCondition, helmv2.UninstallSucceededReason, msg)
		r.Recorder.Normal(hr, helmv2.UninstallSucceededReason, r.EventMetadata(hr, outcome{}), "%s", msg)
	}
	return fail()
}

// previousDeployed is the version of the newest successfully deployed or superseded release
// before the last one, 0 when there is none.
func previousDeployed(ac *action.Configuration, name string) int {
	hist, err := ac.Releases.History(name)
	if err != nil {
		return 0
	}
	best, lastVersion := 0, 0
	for _, h := range hist {
		if rel, ok := h.(*releasev1.Release); ok && rel.Version > lastVersion {
			lastVersion = rel.Version
		}
	}
	for _, h := range hist {
		rel, ok := h.(*releasev1.Release)
		if !ok || rel.Version == lastVersion {
			continue
		}
		if (rel.Info.Status == common.StatusDeployed || rel.Info.Status == common.StatusSuperseded) && rel.Version > best {
			best = rel.Version
		}
	}
	return best
}
