package helmrelease

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/target"
)

// driftDisabledKey, as a label or annotation set to "disabled", leaves an object out of drift
// detection (Flux's).
const driftDisabledKey = "helm.toolkit.fluxcd.io/driftDetection"

// driftMode is spec.driftDetection.mode with weir's default: enabled (Flux's is disabled).
func driftMode(hr *helmv2.HelmRelease) helmv2.DriftDetectionMode {
	if hr.Spec.DriftDetection == nil || hr.Spec.DriftDetection.Mode == "" {
		return helmv2.DriftDetectionEnabled
	}
	return hr.Spec.DriftDetection.Mode
}

// manifestObjects are the objects of a release's manifest, namespaced ones without a namespace
// put in the release's.
func manifestObjects(rel *releasev1.Release, mapper apimeta.RESTMapper) []*unstructured.Unstructured {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(rel.Manifest)), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			// io.EOF ends the stream; Helm wrote the manifest, so no other error is expected.
			break
		}
		if len(u.Object) == 0 || u.GetKind() == "" {
			continue
		}
		if u.GetNamespace() == "" {
			if m, err := mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version); err == nil &&
				m.Scope.Name() == apimeta.RESTScopeNameNamespace {
				u.SetNamespace(rel.Namespace)
			}
		}
		objs = append(objs, u)
	}
	return objs
}

// withHelmOwnership adds what Helm stamps on every object it applies (the managed-by label,
// the release-name and release-namespace annotations), so that comparing the manifest with the
// cluster does not read Helm's own metadata as drift, nor a correction remove it.
func withHelmOwnership(objs []*unstructured.Unstructured, name, namespace string) []*unstructured.Unstructured {
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["app.kubernetes.io/managed-by"] = "Helm"
		o.SetLabels(labels)
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["meta.helm.sh/release-name"], ann["meta.helm.sh/release-namespace"] = name, namespace
		o.SetAnnotations(ann)
	}
	return objs
}

// correctDrift compares the release's objects with the cluster by server-side dry run (as
// helm-controller's field manager) and, in mode enabled, applies them again where they
// drifted; in mode warn it only reports. The Drifted condition says what was found.
func (r *Reconciler) correctDrift(ctx context.Context, hr *helmv2.HelmRelease, rel *releasev1.Release) error {
	conds := reconcile.Conditions{List: &hr.Status.Conditions, Generation: hr.Generation}
	mode := driftMode(hr)
	if mode == helmv2.DriftDetectionDisabled || rel == nil {
		conds.Delete(helmv2.DriftedCondition)
		return nil
	}
	var objs []*unstructured.Unstructured
	for _, o := range withHelmOwnership(manifestObjects(rel, r.RESTMapper()), rel.Name, rel.Namespace) {
		if o.GetLabels()[driftDisabledKey] == compat.Disabled || o.GetAnnotations()[driftDisabledKey] == compat.Disabled {
			continue
		}
		objs = append(objs, o)
	}
	cl, err := r.Targets.For(ctx, target.Spec{Namespace: hr.Namespace, ServiceAccountName: hr.Spec.ServiceAccountName, KubeConfig: hr.Spec.KubeConfig})
	if err != nil {
		return err
	}
	if err := apply.AdoptAllIgnored(ctx, cl, ignoreRules(hr), objs); err != nil {
		return reconcile.Stalled(helmv2.DriftDetectedReason, fmt.Errorf("drift detection failed for release %s: %w", releaseID(hr), err))
	}
	m := apply.NewManager(cl, apply.Options{FieldManager: compat.HelmFieldManager})
	entries, err := m.Diff(ctx, objs, apply.ApplyOptions{})
	if err != nil {
		return reconcile.Failed(helmv2.DriftDetectedReason, fmt.Errorf("drift detection failed for release %s: %w", releaseID(hr), err))
	}
	var drifted []string
	byID := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byID[apply.ObjMetadataFor(o).ID()] = o
	}
	var fix []*unstructured.Unstructured
	for _, e := range entries {
		if e.Action == apply.Created || e.Action == apply.Configured {
			drifted = append(drifted, e.String())
			if o := byID[e.ObjMetadata.ID()]; o != nil {
				fix = append(fix, o)
			}
		}
	}
	sort.Strings(drifted)
	if len(drifted) == 0 {
		conds.False(helmv2.DriftedCondition, helmv2.NoDriftDetectedReason, fmt.Sprintf("No drift detected for release %s", releaseID(hr)))
		return nil
	}
	summary := strings.Join(drifted, ", ")
	if mode == helmv2.DriftDetectionWarn {
		conds.True(helmv2.DriftedCondition, helmv2.DriftDetectedReason, fmt.Sprintf("Cluster state of release %s has drifted: %s", releaseID(hr), summary))
		r.Recorder.Warning(hr, helmv2.DriftDetectedReason, r.EventMetadata(hr, outcome{}),
			"Cluster state of release %s has drifted from the desired state:\n%s", releaseID(hr), strings.Join(drifted, "\n"))
		return nil
	}
	// Flux's events: DriftDetected (Warning) for what was found, then DriftCorrected, or
	// DriftCorrectionFailed, which leaves the release Ready (it is retried on the next reconcile).
	r.Recorder.Warning(hr, helmv2.DriftDetectedReason, r.EventMetadata(hr, outcome{}),
		"Cluster state of release %s has drifted from the desired state:\n%s", releaseID(hr), strings.Join(drifted, "\n"))
	if _, err := m.ApplyAll(ctx, fix, apply.ApplyOptions{}); err != nil {
		conds.True(helmv2.DriftedCondition, helmv2.DriftDetectedReason, fmt.Sprintf("Cluster state of release %s has drifted: %s", releaseID(hr), summary))
		r.Recorder.Warning(hr, driftCorrectionFailedReason, r.EventMetadata(hr, outcome{}),
			"Failed to correct drift of release %s: %s", releaseID(hr), err)
		return nil
	}
	conds.False(helmv2.DriftedCondition, helmv2.NoDriftDetectedReason, fmt.Sprintf("Drift of release %s corrected at %s", releaseID(hr), metav1.Now().Format("2006-01-02T15:04:05Z07:00")))
	r.Recorder.Normal(hr, driftCorrectedReason, r.EventMetadata(hr, outcome{}),
		"Cluster state of release %s has been corrected:\n%s", releaseID(hr), strings.Join(drifted, "\n"))
	return nil
}

// Flux's event reasons of drift correction.
const (
	driftCorrectedReason        = "DriftCorrected"
	driftCorrectionFailedReason = "DriftCorrectionFailed"
)

// ignoreRules are spec.driftDetection.ignore as the apply engine takes them.
func ignoreRules(hr *helmv2.HelmRelease) []apply.IgnoreRule {
	if hr.Spec.DriftDetection == nil {
		return nil
	}
	out := make([]apply.IgnoreRule, 0, len(hr.Spec.DriftDetection.Ignore))
	for _, r := range hr.Spec.DriftDetection.Ignore {
		out = append(out, apply.IgnoreRule{Paths: r.Paths, Target: r.Target})
	}
	return out
}
