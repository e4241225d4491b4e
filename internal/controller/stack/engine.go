package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/charts"
	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/reconcile"
)

// Condition reasons of the engine step.
const (
	ReasonEngineInstalled = "EngineInstalled"
	ReasonEngineFailed    = "EngineFailed"
	ReasonEngineAdopted   = "EngineAdopted"
)

// chart is weir's packaged chart, built once per process.
type chart struct {
	once    sync.Once
	data    []byte
	version string
	digest  string
	err     error
}

func (c *chart) get(appVersion string) ([]byte, string, string, error) {
	c.once.Do(func() {
		c.data, c.version, c.err = charts.Package(appVersion)
		sum := sha256.Sum256(c.data)
		c.digest = "sha256:" + hex.EncodeToString(sum[:])
	})
	return c.data, c.version, c.digest, c.err
}

// storeChart puts the chart in the artifact store (once per version) and publishes it as the
// ExternalArtifact the HelmRelease refers to, Ready with the artifact.
func (r *Reconciler) storeChart(ctx context.Context, stack *hopsv1.FluxGitopsStack) error {
	data, version, digest, err := r.chart.get(r.Version)
	if err != nil {
		return reconcile.Stalled(ReasonEngineFailed, fmt.Errorf("package weir's chart: %w", err))
	}
	obj := artifact.Object{Kind: sourcev1.ExternalArtifactKind, Namespace: r.Namespace, Name: EngineName}
	file := charts.Name + "-" + version + ".tgz"
	rel, err := r.Store.Path(obj, file)
	if err != nil {
		return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("store weir's chart: %w", err))
	}
	rec := artifact.Record{Path: rel, URL: r.Store.URL(rel), Revision: version, Digest: digest, Size: int64(len(data))}
	if fi, err := os.Stat(filepath.Join(r.Store.Root(), filepath.FromSlash(rel))); err == nil && fi.Size() == rec.Size {
		rec.LastUpdateTime = fi.ModTime()
	} else {
		if rec, err = r.Store.Put(ctx, obj, file, version, bytes.NewReader(data)); err != nil {
			return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("store weir's chart: %w", err))
		}
		if _, err := r.Store.GC(ctx, obj, rec.Path); err != nil {
			return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("collect old charts: %w", err))
		}
	}

	ea := &sourcev1.ExternalArtifact{}
	key := client.ObjectKey{Namespace: r.Namespace, Name: EngineName}
	err = r.Get(ctx, key, ea)
	switch {
	case apierrors.IsNotFound(err):
		ea = &sourcev1.ExternalArtifact{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: EngineName, Labels: stringLabels(stack)},
			Spec: sourcev1.ExternalArtifactSpec{SourceRef: &meta.NamespacedObjectKindReference{
				APIVersion: hopsv1.GroupVersion.String(), Kind: hopsv1.FluxGitopsStackKind, Name: stack.Name, Namespace: stack.Namespace}}}
		if err := r.Create(ctx, ea); err != nil {
			return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("create ExternalArtifact %s: %w", key, err))
		}
	case err != nil:
		return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("get ExternalArtifact %s: %w", key, err))
	}
	if a := ea.Status.Artifact; a != nil && a.Digest == rec.Digest && a.URL == rec.URL && reconcile.IsReady(ea.Status.Conditions) {
		return nil
	}
	size := rec.Size
	ea.Status.Artifact = &meta.Artifact{Path: rec.Path, URL: rec.URL, Revision: rec.Revision, Digest: rec.Digest,
		LastUpdateTime: metav1.NewTime(rec.LastUpdateTime), Size: &size}
	conds := reconcile.Conditions{List: &ea.Status.Conditions, Generation: ea.Generation}
	conds.Ready(meta.SucceededReason, fmt.Sprintf("stored weir's chart %s", version))
	if err := r.Status().Update(ctx, ea); err != nil {
		return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("publish ExternalArtifact %s: %w", key, err))
	}
	return nil
}

// engineValues composes the chart's values: weir's (RBAC kept on uninstall, so that the engine
// can finish uninstalling itself), the NodePool's toleration and node selector, then
// flux.values, which win; the NodePool's toleration and selector are kept when flux.values
// replaces the lists.
func engineValues(stack *hopsv1.FluxGitopsStack) (map[string]any, error) {
	base := map[string]any{
		"rbac": map[string]any{"annotations": map[string]any{"helm.sh/resource-policy": "keep"}},
	}
	if stack.Spec.NodePool.Enabled {
		base["tolerations"] = []any{nodePoolToleration()}
		base["nodeSelector"] = map[string]any{nodePoolLabel: nodePoolName(&stack.Spec)}
	}
	user := map[string]any{}
	if v := stack.Spec.Flux.Values; v != nil && len(v.Raw) > 0 {
		if err := json.Unmarshal(v.Raw, &user); err != nil {
			return nil, fmt.Errorf("flux.values: %w", err)
		}
	}
	out := mergeValues(base, user)
	if stack.Spec.NodePool.Enabled {
		tols, _ := out["tolerations"].([]any)
		found := false
		for _, t := range tols {
			if m, ok := t.(map[string]any); ok && m["key"] == nodePoolTaint {
				found = true
			}
		}
		if !found {
			out["tolerations"] = append(tols, nodePoolToleration())
		}
		sel, _ := out["nodeSelector"].(map[string]any)
		if sel == nil {
			sel = map[string]any{}
		}
		if _, ok := sel[nodePoolLabel]; !ok {
			sel[nodePoolLabel] = nodePoolName(&stack.Spec)
		}
		out["nodeSelector"] = sel
	}
	return out, nil
}

// mergeValues merges b over a: maps deeply, anything else replaced.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// engineRelease is the HelmRelease of weir's chart from the ExternalArtifact.
func engineRelease(stack *hopsv1.FluxGitopsStack, namespace string, values map[string]any, adopted bool) *unstructured.Unstructured {
	u := object(stack, "helm.toolkit.fluxcd.io/v2", "HelmRelease", namespace, EngineName, map[string]any{
		"interval":    durationOr(stack.Spec.Flux.Interval, defaultEngineInterval).String(),
		"releaseName": EngineName,
		"chartRef":    map[string]any{"kind": sourcev1.ExternalArtifactKind, "name": EngineName, "namespace": namespace},
		"install":     map[string]any{"crds": "CreateReplace", "remediation": map[string]any{"retries": int64(3)}},
		"upgrade":     map[string]any{"crds": "CreateReplace", "remediation": map[string]any{"retries": int64(3), "remediateLastFailure": true}},
		"values":      values,
	})
	if adopted {
		u.SetAnnotations(map[string]string{AnnotationAdopted: "true"})
	}
	return u
}

// reconcileEngine stores the chart, adopts an engine installed without the stack (a
// HelmRelease "weir", or `weir install`'s Deployment, which Helm takes over), and applies the
// HelmRelease. It returns the HelmRelease's readiness message, "" when Ready.
func (r *Reconciler) reconcileEngine(ctx context.Context, stack *hopsv1.FluxGitopsStack) (string, error) {
	if err := r.storeChart(ctx, stack); err != nil {
		return "", err
	}
	values, err := engineValues(stack)
	if err != nil {
		return "", reconcile.Stalled(ReasonEngineFailed, err)
	}
	adopted, err := r.engineAdopted(ctx, stack)
	if err != nil {
		return "", err
	}
	if err := r.apply(ctx, engineRelease(stack, r.Namespace, values, adopted)); err != nil {
		return "", reconcile.Failed(ReasonEngineFailed, fmt.Errorf("apply HelmRelease %s/%s: %w", r.Namespace, EngineName, err))
	}
	return r.readiness(ctx, r.Namespace, EngineName, "HelmRelease")
}

// engineAdopted reports whether the engine was there before the stack: a HelmRelease "weir"
// without the stack's labels (or already marked adopted), or weir's Deployment installed
// without Helm.
func (r *Reconciler) engineAdopted(ctx context.Context, stack *hopsv1.FluxGitopsStack) (bool, error) {
	hr, err := r.getMeta(ctx, engineRelease(stack, r.Namespace, nil, false))
	if err != nil {
		return false, err
	}
	if hr != nil {
		if hr.GetAnnotations()[AnnotationAdopted] == "true" {
			return true, nil
		}
		if !ownedBy(hr, stack) {
			r.Recorder.Normal(stack, ReasonEngineAdopted, nil, "adopted HelmRelease %s/%s, installed before the stack", r.Namespace, EngineName)
			return true, nil
		}
		return false, nil
	}
	var dep appsv1.Deployment
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: EngineName}, &dep)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, reconcile.Failed(ReasonEngineFailed, fmt.Errorf("get Deployment %s/%s: %w", r.Namespace, EngineName, err))
	}
	if dep.Annotations["meta.helm.sh/release-name"] == "" {
		r.Recorder.Normal(stack, ReasonEngineAdopted, nil, "adopting weir's install in %s: Helm takes its objects over", r.Namespace)
		return true, nil
	}
	return false, nil
}

// ownedBy reports whether obj carries the stack's labels.
func ownedBy(obj client.Object, stack *hopsv1.FluxGitopsStack) bool {
	l := obj.GetLabels()
	return l[LabelStackName] == stack.Name && l[LabelStackNamespace] == stack.Namespace
}

// stringLabels are the stack's labels as a string map.
func stringLabels(stack *hopsv1.FluxGitopsStack) map[string]string {
	out := map[string]string{}
	for k, v := range stackLabels(stack) {
		out[k] = v.(string)
	}
	return out
}
