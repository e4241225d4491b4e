//go:build faults

package faults_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/faultpoint"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// names is prefix-0 … prefix-(n-1), from from.
func names(prefix string, from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// moveConfigMaps is the commit that turns the directory of configMaps(dir, …, old...) into
// configMaps(dir, value, want...).
func moveConfigMaps(dir, value string, old, want []string) map[string]string {
	files := configMaps(dir, value, want...)
	for _, n := range old {
		if _, ok := files[dir+"/"+n+".yaml"]; !ok {
			files[dir+"/"+n+".yaml"] = gitserver.Deleted
		}
	}
	return files
}

// setSuspend sets k's spec.suspend.
func (w *world) setSuspend(k *kustomizev1.Kustomization, suspend bool) {
	w.t.Helper()
	patch := client.MergeFrom(k.DeepCopy())
	k.Spec.Suspend = suspend
	if err := env.Client.Patch(w.t.Context(), k, patch); err != nil {
		w.t.Fatal(err)
	}
}

// waitArtifact waits until the GitRepository name has an artifact of revision.
func (w *world) waitArtifact(name, revision string) {
	w.t.Helper()
	testenv.Eventually(w.t, 2*time.Minute, func() error {
		var r sourcev1.GitRepository
		if err := env.Client.Get(w.t.Context(), client.ObjectKey{Namespace: w.ns, Name: name}, &r); err != nil {
			return err
		}
		if r.Status.Artifact == nil || !strings.HasSuffix(r.Status.Artifact.Revision, revision) {
			return fmt.Errorf("GitRepository %s has artifact %+v, want revision %s", name, r.Status.Artifact, revision)
		}
		return nil
	})
}

// TestCrashAfterApply kills the controller with SIGKILL after a Kustomization applied a new
// revision and before its status (inventory, lastAppliedRevision) was written: the revision
// moved ten ConfigMaps out and ten in, so the status still lists the old ones. Oracle: after a
// restart on the same storage, the Kustomization is Ready at the new revision, its inventory
// is exactly the new ConfigMaps, the old ones are pruned (no orphan), no new one is missing,
// the store holds no temporary file and its digests match the files, the temporary directory
// holds nothing of the dead process, and the canary never leaks.
func TestCrashAfterApply(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v1, v2 := names("cm", 0, 15), names("cm", 10, 15)
	repo := w.repo("app", configMaps("app", "1", v1...))
	k := w.kustomization("app", "app", "./app")
	first := w.start(nil)
	w.waitApplied(k, repo.Rev("main"), 2*time.Minute, v1...)
	// The source fetches the new revision while the Kustomization is suspended, so that the
	// first apply after the restart is that revision's.
	w.setSuspend(k, true)
	rev := w.commit(repo, "move", moveConfigMaps("app", "2", v1, v2))
	w.waitArtifact("app", rev)
	first.kill()
	w.setSuspend(k, false)
	w.crash(faultpoint.KustomizationApplied, 2*time.Minute)
	if w.lastGood(k); strings.HasSuffix(k.Status.LastAppliedRevision, rev) { // the old inventory's objects are all there
		t.Fatalf("the status was written before the crash: %s", k.Status.LastAppliedRevision)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: v2[len(v2)-1]}, &cm); err != nil {
		t.Fatalf("the crash came before the apply of %s: %v", rev, err)
	}

	proc := w.start(nil)
	w.waitApplied(k, rev, 2*time.Minute, v2...)
	w.assertStoreConsistent()
	w.assertTempClean(proc, 3)
	w.assertNoCanary()
}

// TestCrashMidPrune kills the controller with SIGKILL after the first object of a prune was
// deleted and before the others were: a revision dropped twelve of fifteen ConfigMaps. Oracle:
// after a restart, the Kustomization is Ready at that revision with exactly the three
// ConfigMaps left in its inventory and in the cluster, the other twelve deleted, nothing else
// touched; the store and the temporary directory are clean; the canary never leaks.
func TestCrashMidPrune(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v1, v2 := names("cm", 0, 15), names("cm", 0, 3)
	repo := w.repo("app", configMaps("app", "1", v1...))
	k := w.kustomization("app", "app", "./app")
	first := w.start(nil)
	w.waitApplied(k, repo.Rev("main"), 2*time.Minute, v1...)
	first.kill()

	rev := repo.Commit("main", "shrink", moveConfigMaps("app", "1", v1, v2))
	w.crash(faultpoint.KustomizationPruning, 2*time.Minute)
	if left := w.managedConfigMaps(k); len(left) <= len(v2) || len(left) == len(v1) {
		t.Fatalf("the crash was not mid-prune: %d ConfigMaps left", len(left))
	}

	proc := w.start(nil)
	w.waitApplied(k, rev, 2*time.Minute, v2...)
	w.assertStoreConsistent()
	w.assertTempClean(proc, 3)
	w.assertNoCanary()
}

// TestCrashMidArtifactWrite kills the controller with SIGKILL while a GitRepository's
// artifact is written to the store (the temporary file complete, not yet renamed into
// place). Oracle: the crash leaves the half-made file and no artifact; after a restart the
// source stores its artifact, the Kustomization applies it, no temporary file is left in the
// store or in the temporary directory, every status.artifact digest matches its file, and the
// canary never leaks.
func TestCrashMidArtifactWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cms := names("cm", 0, 3)
	repo := w.repo("app", configMaps("app", "1", cms...))
	k := w.kustomization("app", "app", "./app")
	w.crash(faultpoint.ArtifactWriting, 2*time.Minute)
	var temps []string
	_ = filepath.WalkDir(w.storage(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			temps = append(temps, d.Name())
		}
		return nil
	})
	if len(temps) != 1 || !strings.HasPrefix(temps[0], ".") {
		t.Fatalf("the crash left %v in the store, want one temporary file", temps)
	}

	proc := w.start(nil)
	w.waitApplied(k, repo.Rev("main"), 2*time.Minute, cms...)
	w.assertStoreConsistent()
	w.assertTempClean(proc, 3)
	w.assertNoCanary()
}

// appChart is a chart of one ConfigMap whose value comes from the values.
func appChart(version string) chartrepo.Chart {
	return chartrepo.Chart{Name: "app", Version: version, Files: map[string]string{
		"values.yaml":       "greeting: hello\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
	}}
}

// helmRelease creates a HelmRepository of url and a HelmRelease of its chart "app", both
// (and the HelmChart made from the release) watched by the case's controller.
func (w *world) helmRelease(name, url string) *helmv2.HelmRelease {
	w.t.Helper()
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: helmv2.HelmReleaseSpec{
		Interval: metav1.Duration{Duration: time.Hour},
		Chart: &helmv2.HelmChartTemplate{
			ObjectMeta: &helmv2.HelmChartTemplateObjectMeta{Labels: map[string]string{caseLabel: w.id}},
			Spec: helmv2.HelmChartTemplateSpec{Chart: "app", Version: "*", Interval: &metav1.Duration{Duration: time.Hour},
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: name}},
		},
	}}
	w.create(&sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sourcev1.HelmRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour}}}, hr)
	return hr
}

// helmStorage reads the Helm release records of the case's namespace, as the helm CLI does.
func (w *world) helmStorage() *action.Configuration {
	w.t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &env.Kubeconfig, &w.ns
	ac := action.NewConfiguration()
	if err := ac.Init(flags, w.ns, "secret"); err != nil {
		w.t.Fatal(err)
	}
	return ac
}

// TestCrashMidHelmUpgrade kills the controller with SIGKILL after a HelmRelease's upgrade
// stored its pending-upgrade release record and before it touched the release's objects.
// Oracle: the crash leaves the last record pending-upgrade; after a restart the release is
// unlocked (the stale record marked failed) and upgraded: Ready, the ConfigMap has the new
// value, the last record is deployed and none is pending, status.history's latest entry is
// that deployed version; the canary never leaks.
func TestCrashMidHelmUpgrade(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0"))
	hr := w.helmRelease("app", charts.URL())
	first := w.start(nil)
	w.waitReady(hr, 2*time.Minute)
	first.kill()

	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); err != nil {
		t.Fatal(err)
	}
	hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"greeting":"after the crash"}`)}
	if err := env.Client.Update(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	w.crash(faultpoint.HelmUpgrading, 2*time.Minute)
	ac := w.helmStorage()
	last, err := ac.Releases.Last("app")
	if err != nil {
		t.Fatal(err)
	}
	if s := last.(*releasev1.Release).Info.Status; s != common.StatusPendingUpgrade {
		t.Fatalf("after the crash the last release is %s, want pending-upgrade", s)
	}

	w.start(nil)
	testenv.Eventually(t, 2*time.Minute, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: "app-cm"}, &cm); err != nil {
			return err
		}
		if cm.Data["greeting"] != "after the crash" {
			return fmt.Errorf("greeting %q", cm.Data["greeting"])
		}
		return nil
	})
	w.waitReady(hr, time.Minute)
	hist, err := ac.Releases.History("app")
	if err != nil {
		t.Fatal(err)
	}
	latest := 0
	for _, h := range hist {
		r := h.(*releasev1.Release)
		if r.Info.Status.IsPending() {
			t.Errorf("release version %d is still %s", r.Version, r.Info.Status)
		}
		latest = max(latest, r.Version)
	}
	for _, h := range hist {
		if r := h.(*releasev1.Release); r.Version == latest && r.Info.Status != common.StatusDeployed {
			t.Errorf("the latest release (version %d) is %s", r.Version, r.Info.Status)
		}
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); err != nil {
		t.Fatal(err)
	}
	if len(hr.Status.History) == 0 || hr.Status.History[0].Version != latest || hr.Status.History[0].Status != common.StatusDeployed.String() {
		t.Errorf("status.history %+v, want version %d deployed first", hr.Status.History, latest)
	}
	w.assertNoCanary()
}

// TestPanicInHelperGoroutines makes a goroutine that is not a reconcile worker panic: an
// apply worker of a concurrent server-side apply, the informer handler that wakes health
// waits, a notification delivery worker. Oracle: the process stays up, the panic is reported
// (the Kustomization's apply fails with it, or an error log line names it), the Kustomization
// then becomes Ready with everything applied, and the canary never leaks.
func TestPanicInHelperGoroutines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		point string
		// report is what the controller's log says of the panic.
		report string
	}{
		{faultpoint.ApplyWorker, "panic in an apply worker"},
		{faultpoint.HealthWaiting, "panic while waking the health waiters"},
		{faultpoint.EventForwarding, "panic while delivering a notification"},
	}
	w := newWorld(t)
	w.notifications()
	for i, c := range cases {
		cms := names(c.point, 0, 4)
		dir := fmt.Sprintf("app%d", i)
		repo := w.repo(dir, configMaps(dir, "1", cms...))
		k := w.kustomization(dir, dir, "./"+dir, func(k *kustomizev1.Kustomization) {
			k.Spec.Wait, k.Spec.Timeout = true, &metav1.Duration{Duration: 30 * time.Second}
			k.Spec.RetryInterval = &metav1.Duration{Duration: 2 * time.Second}
		})
		p := w.start(nil, "WEIR_FAULTPOINT="+c.point+":panic")
		w.waitApplied(k, repo.Rev("main"), 2*time.Minute, cms...)
		testenv.Eventually(t, time.Minute, func() error {
			if !strings.Contains(p.log.String(), "faultpoint "+c.point+": panicking") {
				return fmt.Errorf("%s was not reached", c.point)
			}
			if !strings.Contains(p.log.String(), c.report) {
				return fmt.Errorf("the panic at %s is not reported", c.point)
			}
			return nil
		})
		if p.exited() {
			t.Fatalf("the controller died of the panic at %s:\n%s", c.point, tail(p.log.String(), 3000))
		}
		w.assertNoCanary()
		p.kill()
	}
}
