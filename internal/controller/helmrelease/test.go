package helmrelease

import (
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/action"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/reconcile"
)

// runTests runs the release's test hooks (spec.test) after an install or upgrade, records
// their phases in the history and sets TestSuccess. It returns the release after the tests
// and whether they failed.
func (r *Reconciler) runTests(ac *action.Configuration, hr *helmv2.HelmRelease) (*releasev1.Release, error) {
	conds := reconcile.Conditions{List: &hr.Status.Conditions, Generation: hr.Generation}
	t := hr.GetTest()
	if !t.Enable {
		conds.Delete(helmv2.TestSuccessCondition)
		return nil, nil
	}
	rt := action.NewReleaseTesting(ac)
	rt.Timeout = t.GetTimeout(hr.GetTimeout()).Duration
	rt.Namespace = hr.GetReleaseNamespace()
	rt.Filters = map[string][]string{}
	for _, f := range t.GetFilters() {
		key := action.IncludeNameFilter
		if f.Exclude {
			key = action.ExcludeNameFilter
		}
		rt.Filters[key] = append(rt.Filters[key], f.Name)
	}
	res, _, err := rt.Run(hr.GetReleaseName())
	rel := asRelease(res)
	hooks := testHooks(rel)
	if len(hr.Status.History) > 0 && rel != nil && hr.Status.History[0].Version == rel.Version {
		hr.Status.History[0].TestHooks = &hooks
	}
	if err != nil {
		msg := fmt.Sprintf("Helm test failed for release %s with chart %s: %s", versionedID(hr, rel), chartOf(rel), err)
		conds.False(helmv2.TestSuccessCondition, helmv2.TestFailedReason, msg)
		return rel, fmt.Errorf("%s", msg)
	}
	conds.True(helmv2.TestSuccessCondition, helmv2.TestSucceededReason,
		fmt.Sprintf("Helm test succeeded for release %s with chart %s: %d test hooks completed successfully", versionedID(hr, rel), chartOf(rel), len(hooks)))
	return rel, nil
}

func chartOf(rel *releasev1.Release) string {
	if rel == nil || rel.Chart == nil || rel.Chart.Metadata == nil {
		return ""
	}
	return rel.Chart.Metadata.Name + "@" + rel.Chart.Metadata.Version
}

// testHooks are the test hooks of a release with their last run, as Flux's snapshots hold them.
func testHooks(rel *releasev1.Release) map[string]*helmv2.TestHookStatus {
	out := map[string]*helmv2.TestHookStatus{}
	if rel == nil {
		return out
	}
	for _, h := range rel.Hooks {
		for _, e := range h.Events {
			if e != releasev1.HookTest {
				continue
			}
			s := &helmv2.TestHookStatus{Phase: h.LastRun.Phase.String()}
			if !h.LastRun.StartedAt.IsZero() {
				s.LastStarted = metav1.NewTime(h.LastRun.StartedAt)
			}
			if !h.LastRun.CompletedAt.IsZero() {
				s.LastCompleted = metav1.NewTime(h.LastRun.CompletedAt)
			}
			out[h.Name] = s
		}
	}
	return out
}

// versionedID is <namespace>/<name>.v<version> of rel, as Flux's messages name a release.
func versionedID(hr *helmv2.HelmRelease, rel *releasev1.Release) string {
	if rel == nil {
		return releaseID(hr)
	}
	return fmt.Sprintf("%s.v%d", releaseID(hr), rel.Version)
}
