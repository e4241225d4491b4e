package helmrelease

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/helm"
)

// Labels Flux puts on the HelmChart a HelmRelease's spec.chart creates.
const (
	nameLabel      = "helm.toolkit.fluxcd.io/name"
	namespaceLabel = "helm.toolkit.fluxcd.io/namespace"
)

// chartSource is the chart a HelmRelease installs, and where it came from.
type chartSource struct {
	kind, namespace, name string
	artifact              *meta.Artifact
}

func (s chartSource) String() string { return s.kind + "/" + s.namespace + "/" + s.name }

// ensureHelmChart creates or updates the HelmChart of spec.chart, named
// <namespace>-<name> in the source's namespace, and returns it.
func (r *Reconciler) ensureHelmChart(ctx context.Context, hr *helmv2.HelmRelease) (*sourcev1.HelmChart, error) {
	tpl := hr.Spec.Chart
	ns := tpl.Spec.SourceRef.Namespace
	if ns == "" {
		ns = hr.Namespace
	}
	if r.NoCrossNamespaceRefs && ns != hr.Namespace {
		return nil, reconcile.Stalled(compat.AccessDeniedReason, fmt.Errorf("can't access '%s/%s/%s', cross-namespace references have been blocked",
			tpl.Spec.SourceRef.Kind, ns, tpl.Spec.SourceRef.Name))
	}
	interval := hr.Spec.Interval
	if tpl.Spec.Interval != nil {
		interval = *tpl.Spec.Interval
	}
	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: hr.GetHelmChartName()}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, hc, func() error {
		if hc.Labels == nil {
			hc.Labels = map[string]string{}
		}
		if tpl.ObjectMeta != nil {
			for k, v := range tpl.ObjectMeta.Labels {
				hc.Labels[k] = v
			}
			if len(tpl.ObjectMeta.Annotations) > 0 {
				if hc.Annotations == nil {
					hc.Annotations = map[string]string{}
				}
				for k, v := range tpl.ObjectMeta.Annotations {
					hc.Annotations[k] = v
				}
			}
		}
		hc.Labels[nameLabel], hc.Labels[namespaceLabel] = hr.Name, hr.Namespace
		hc.Spec = sourcev1.HelmChartSpec{
			Chart: tpl.Spec.Chart, Version: tpl.Spec.Version, Interval: interval,
			SourceRef:                sourcev1.LocalHelmChartSourceReference{Kind: tpl.Spec.SourceRef.Kind, Name: tpl.Spec.SourceRef.Name},
			ReconcileStrategy:        tpl.Spec.ReconcileStrategy,
			ValuesFiles:              tpl.Spec.ValuesFiles,
			IgnoreMissingValuesFiles: tpl.Spec.IgnoreMissingValuesFiles,
		}
		if v := tpl.Spec.Verify; v != nil {
			hc.Spec.Verify = &sourcev1.HelmChartVerification{Provider: v.Provider, SecretRef: v.SecretRef}
		}
		return nil
	})
	if err != nil {
		return nil, reconcile.Failed(helmv2.ArtifactFailedReason, fmt.Errorf("failed to create HelmChart '%s/%s': %w", ns, hc.Name, err))
	}
	hr.Status.HelmChart = ns + "/" + hc.Name
	return hc, nil
}

// source finds the chart's artifact: the HelmChart of spec.chart, or spec.chartRef's
// HelmChart, OCIRepository or ExternalArtifact. A source without artifact is waited for.
func (r *Reconciler) source(ctx context.Context, hr *helmv2.HelmRelease) (chartSource, error) {
	if err := r.dropOldHelmChart(ctx, hr); err != nil {
		return chartSource{}, err
	}
	if hr.HasChartTemplate() {
		hc, err := r.ensureHelmChart(ctx, hr)
		if err != nil {
			return chartSource{}, err
		}
		src := chartSource{kind: sourcev1.HelmChartKind, namespace: hc.Namespace, name: hc.Name, artifact: hc.Status.Artifact}
		if why := notReady(hc.Generation, hc.Status.ObservedGeneration, true, hc.Status.Conditions, hc.Status.Artifact); why != "" {
			return src, r.sourceNotReady(src, why)
		}
		return src, nil
	}
	if !hr.HasChartRef() {
		return chartSource{}, reconcile.Stalled(helmv2.ArtifactFailedReason, fmt.Errorf("one of spec.chart and spec.chartRef is required"))
	}
	ref := hr.Spec.ChartRef
	ns := ref.Namespace
	if ns == "" {
		ns = hr.Namespace
	}
	src := chartSource{kind: ref.Kind, namespace: ns, name: ref.Name}
	if r.NoCrossNamespaceRefs && ns != hr.Namespace {
		return src, reconcile.Stalled(compat.AccessDeniedReason, fmt.Errorf("can't access '%s', cross-namespace references have been blocked", src))
	}
	switch ref.Kind {
	case sourcev1.OCIRepositoryKind, sourcev1.HelmChartKind, sourcev1.ExternalArtifactKind:
	default:
		return src, reconcile.Stalled(helmv2.ArtifactFailedReason, fmt.Errorf("unsupported source kind '%s'", ref.Kind))
	}
	o, err := r.Scheme().New(sourcev1.GroupVersion.WithKind(ref.Kind))
	if err != nil {
		return src, reconcile.Stalled(helmv2.ArtifactFailedReason, fmt.Errorf("unsupported source kind '%s'", ref.Kind))
	}
	obj := o.(client.Object)
	err = r.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return src, reconcile.Waiting(helmv2.ArtifactFailedReason, r.RequeueDependency, fmt.Errorf("%s '%s/%s' not found", ref.Kind, ns, ref.Name))
	case err != nil:
		return src, reconcile.Failed(helmv2.ArtifactFailedReason, fmt.Errorf("get %s: %w", src, err))
	}
	var why string
	switch t := obj.(type) {
	case *sourcev1.OCIRepository:
		src.artifact = t.Status.Artifact
		why = notReady(t.Generation, t.Status.ObservedGeneration, true, t.Status.Conditions, t.Status.Artifact)
	case *sourcev1.HelmChart:
		src.artifact = t.Status.Artifact
		why = notReady(t.Generation, t.Status.ObservedGeneration, true, t.Status.Conditions, t.Status.Artifact)
	case *sourcev1.ExternalArtifact:
		// Written by another controller, without an observed generation.
		src.artifact = t.Status.Artifact
		why = notReady(0, 0, false, t.Status.Conditions, t.Status.Artifact)
	}
	if why != "" {
		return src, r.sourceNotReady(src, why)
	}
	return src, nil
}

// sourceNotReadyReason is Flux's Ready reason of a HelmRelease whose chart source is not ready.
const sourceNotReadyReason = "SourceNotReady"

// notReady says why a chart source is not ready, as Flux judges it: its latest generation not
// reconciled yet, Stalled (a version that does not exist, a bad reference: the last artifact
// is not used), or no artifact; "" when it is ready.
func notReady(generation, observed int64, hasObserved bool, conds []metav1.Condition, a *meta.Artifact) string {
	switch {
	case hasObserved && generation != observed:
		return "latest generation of object has not been reconciled"
	case apimeta.IsStatusConditionTrue(conds, "Stalled"):
		return apimeta.FindStatusCondition(conds, "Stalled").Message
	case a == nil:
		// Flux's words, with why when the source says it (a version that does not exist).
		if c := apimeta.FindStatusCondition(conds, "Ready"); c != nil && c.Status == metav1.ConditionFalse && c.Message != "" {
			return "does not have an artifact: " + c.Message
		}
		return "does not have an artifact"
	}
	return ""
}

// sourceNotReady is the waiting error of a source that is not ready: Ready=False
// SourceNotReady, retried when the source changes (and after --requeue-dependency).
func (r *Reconciler) sourceNotReady(src chartSource, why string) error {
	return reconcile.Waiting(sourceNotReadyReason, r.RequeueDependency, fmt.Errorf("%s '%s/%s' is not ready: %s", src.kind, src.namespace, src.name, why))
}

// loadChart reads the source's artifact, a packaged chart, from the store (or, for an
// ExternalArtifact, from its URL).
func (r *Reconciler) loadChart(ctx context.Context, src chartSource) (*chart.Chart, error) {
	var data []byte
	var err error
	if src.kind == sourcev1.ExternalArtifactKind {
		data, err = artifact.Fetch(ctx, src.artifact.URL, src.artifact.Digest, helm.DefaultMaxChartSize)
	} else {
		data, err = os.ReadFile(filepath.Join(r.Store.Root(), filepath.FromSlash(src.artifact.Path)))
		if err == nil && helm.Digest(data) != src.artifact.Digest {
			err = fmt.Errorf("artifact digest mismatch")
		}
	}
	if err != nil {
		return nil, reconcile.Failed(helmv2.ArtifactFailedReason, fmt.Errorf("failed to read chart artifact of %s: %w", src, err))
	}
	ch, err := helm.LoadArchive(data)
	if err != nil {
		return nil, reconcile.Failed(helmv2.ArtifactFailedReason, fmt.Errorf("failed to load chart from %s: %w", src, err))
	}
	return ch, nil
}

// chartRevision is what lastAttemptedRevision records: the chart version, with the first 12
// hex of the OCI digest for an OCIRepository source (Flux's digest tracking) unless noDigest
// (the DisableChartDigestTracking gate).
func chartRevision(src chartSource, ch *chart.Chart, noDigest bool) string {
	if src.kind == sourcev1.OCIRepositoryKind && !noDigest {
		return DigestVersion(ch.Metadata.Version, src.artifact.Revision)
	}
	return ch.Metadata.Version
}

// DigestVersion is the version Flux releases an OCIRepository chart with (digest tracking):
// the chart's version and "+" the first 12 hex of the manifest digest in the artifact
// revision ("<tag>@sha256:<hex>").
func DigestVersion(version, revision string) string {
	d := revision
	if i := strings.LastIndex(d, ":"); i >= 0 {
		d = d[i+1:]
	}
	if len(d) > 12 {
		return version + "+" + d[:12]
	}
	return version
}

// ociDigest is the manifest digest of an OCIRepository chart ("sha256:<hex>" from the
// revision "<tag>@sha256:<hex>"), as Flux records it in lastAttemptedRevisionDigest and the
// history's ociDigest; "" for other sources.
func ociDigest(src chartSource) string {
	if src.kind != sourcev1.OCIRepositoryKind || src.artifact == nil {
		return ""
	}
	rev := src.artifact.Revision
	if i := strings.LastIndex(rev, "@"); i >= 0 {
		rev = rev[i+1:]
	}
	return rev
}

// dropOldHelmChart deletes the HelmChart status.helmChart names when the spec no longer asks
// for it (spec.chartRef instead of spec.chart, or a chart source in another namespace), and
// forgets it, as Flux does.
func (r *Reconciler) dropOldHelmChart(ctx context.Context, hr *helmv2.HelmRelease) error {
	if hr.Status.HelmChart == "" {
		return nil
	}
	if hr.HasChartTemplate() {
		ns := hr.Spec.Chart.Spec.SourceRef.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		if hr.Status.HelmChart == ns+"/"+hr.GetHelmChartName() {
			return nil
		}
	}
	ns, name := splitKey(hr.Status.HelmChart)
	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := r.Delete(ctx, hc); client.IgnoreNotFound(err) != nil {
		return reconcile.Failed(compat.FailedReason, fmt.Errorf("delete HelmChart %s, no longer used: %w", hr.Status.HelmChart, err))
	}
	hr.Status.HelmChart = ""
	return nil
}
