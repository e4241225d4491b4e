package helmrelease_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// appChart renders a ConfigMap whose value comes from the values, so every test can see what
// was released without a kubelet.
func appChart(version, extraTemplate string) chartrepo.Chart {
	files := map[string]string{
		"values.yaml":       "greeting: hello\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  chart: {{ .Chart.Version | quote }}\n",
	}
	if extraTemplate != "" {
		files["templates/extra.yaml"] = extraTemplate
	}
	return chartrepo.Chart{Name: "app", Version: version, Files: files}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func helmRepository(ns, url string) *sourcev1.HelmRepository {
	return &sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "charts"},
		Spec: sourcev1.HelmRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour}}}
}

func release(ns, name, version, values string) *helmv2.HelmRelease {
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", Version: version, Interval: &metav1.Duration{Duration: time.Hour},
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
		},
	}
	if values != "" {
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(values)}
	}
	return hr
}

func configMapData(t *testing.T, ns, name string) (map[string]string, error) {
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		return nil, err
	}
	return cm.Data, nil
}

func readyMessage(hr *helmv2.HelmRelease) string {
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); c != nil {
		return c.Reason + ": " + c.Message
	}
	return ""
}

// TestHelmReleaseLifecycle installs a release from spec.chart, upgrades it on a values change,
// a valuesFrom ConfigMap change and a new chart version, keeps Helm's own release records, and
// uninstalls it when the HelmRelease is deleted.
func TestHelmReleaseLifecycle(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	overrides := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "overrides"}, Data: map[string]string{"tail": "!"}}
	repo := helmRepository(ns, charts.URL())
	create(t, repo, overrides, release(ns, "app", "1.x", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}

	hr := waitRelease(t, key, metav1.ConditionTrue, nil)
	checkInstalled(t, hr)
	// Inline values.
	hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"greeting":"hi"}`)}
	if err := env.Client.Update(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	hr = waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "hi" {
			return fmt.Errorf("greeting %q, want the inline value", d["greeting"])
		}
		return nil
	})
	// A valuesFrom entry with a targetPath (the inline values no longer set that key: where
	// they do, Flux merges them over a top-level targeted key at the end, and so does weir).
	hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"other":"x"}`)}
	hr.Spec.ValuesFrom = []helmv2.ValuesReference{{Kind: "ConfigMap", Name: "overrides", ValuesKey: "tail", TargetPath: "greeting"}}
	if err := env.Client.Update(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "!" {
			return fmt.Errorf("greeting %q, want the valuesFrom targetPath value", d["greeting"])
		}
		return nil
	})
	overrides.Data["tail"] = "?"
	if err := env.Client.Update(t.Context(), overrides); err != nil {
		t.Fatal(err)
	}
	hr = waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "?" {
			return fmt.Errorf("greeting %q after the ConfigMap changed", d["greeting"])
		}
		return nil
	})
	if !strings.HasPrefix(readyMessage(hr), "UpgradeSucceeded: Helm upgrade succeeded for release "+ns+"/app.v4") {
		t.Errorf("Ready %q", readyMessage(hr))
	}

	charts.Add(t, appChart("1.1.0", ""))
	env.RequestReconcile(t, repo)
	hr = waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if hr.Status.LastAttemptedRevision != "1.1.0" {
			return fmt.Errorf("lastAttemptedRevision %s", hr.Status.LastAttemptedRevision)
		}
		return nil
	})
	if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != "1.1.0" {
		t.Errorf("chart %q after the new version", d["chart"])
	}
	if len(hr.Status.History) < 2 || hr.Status.History[0].Version != 5 || hr.Status.History[0].ChartVersion != "1.1.0" {
		t.Errorf("history %+v", hr.Status.History)
	}

	if err := env.Client.Delete(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		if _, err := configMapData(t, ns, "app-cm"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("released ConfigMap still there: %w", err)
		}
		var hc sourcev1.HelmChart
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: ns + "-app"}, &hc); !apierrors.IsNotFound(err) {
			return fmt.Errorf("HelmChart still there: %w", err)
		}
		var records corev1.SecretList
		if err := env.Client.List(t.Context(), &records, client.InNamespace(ns), client.MatchingLabels{"owner": "helm"}); err != nil {
			return err
		}
		if len(records.Items) != 0 {
			return fmt.Errorf("%d Helm release records left", len(records.Items))
		}
		return nil
	})
}

// helmStorage opens the Helm release records of namespace ns, as the helm CLI does.
func helmStorage(t *testing.T, ns string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &env.Kubeconfig, &ns
	ac := action.NewConfiguration()
	if err := ac.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}
	return ac
}

// TestHelmReleaseUnlocksPending: a release left pending-upgrade (as by a controller killed
// mid-upgrade) is unlocked on the next reconcile and upgraded; the history says what happened.
func TestHelmReleaseUnlocksPending(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	create(t, helmRepository(ns, charts.URL()), release(ns, "app", "1.x", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	hr := waitRelease(t, key, metav1.ConditionTrue, nil)

	// What a crash mid-upgrade leaves: a newer record, pending-upgrade.
	ac := helmStorage(t, ns)
	last, err := ac.Releases.Last("app")
	if err != nil {
		t.Fatal(err)
	}
	rel := last.(*releasev1.Release)
	pending := *rel
	info := *rel.Info
	pending.Info, pending.Version = &info, rel.Version+1
	pending.SetStatus(common.StatusPendingUpgrade, "Preparing upgrade")
	if err := ac.Releases.Create(&pending); err != nil {
		t.Fatal(err)
	}

	hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"greeting":"after the crash"}`)}
	if err := env.Client.Update(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	hr = waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "after the crash" {
			return fmt.Errorf("greeting %q", d["greeting"])
		}
		return nil
	})
	hist, err := ac.Releases.History("app")
	if err != nil {
		t.Fatal(err)
	}
	status := map[int]string{}
	for _, h := range hist {
		r := h.(*releasev1.Release)
		status[r.Version] = r.Info.Status.String() + " " + r.Info.Description
	}
	if !strings.HasPrefix(status[2], "failed Release unlocked from stale 'pending-upgrade' state") || !strings.HasPrefix(status[3], "deployed") {
		t.Errorf("release history %v", status)
	}
	if hr.Status.History[0].Version != 3 {
		t.Errorf("status.history %+v", hr.Status.History)
	}
}

// TestHelmReleaseRollsBackFailedUpgrade: an upgrade to a chart the API server refuses fails
// with UpgradeFailed; with retries, the release is rolled back (Remediated) and what was
// released stays; with retries used up, the release stalls until something changes.
func TestHelmReleaseRollsBackFailedUpgrade(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	repo := helmRepository(ns, charts.URL())
	hr := release(ns, "app", "*", "")
	hr.Spec.Upgrade = &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: 1}}
	create(t, repo, hr)
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitRelease(t, key, metav1.ConditionTrue, nil)

	// 2.0.0 renders a Service the API server refuses (an invalid port).
	charts.Add(t, appChart("2.0.0", "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  ports:\n  - port: 700000\n"))
	env.RequestReconcile(t, repo)
	hr = waitRelease(t, key, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		if hr.Status.UpgradeFailures < 2 {
			return fmt.Errorf("%d upgrade failures", hr.Status.UpgradeFailures)
		}
		return nil
	})
	ready := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
	released := apimeta.FindStatusCondition(hr.Status.Conditions, "Released")
	remediated := apimeta.FindStatusCondition(hr.Status.Conditions, "Remediated")
	if released == nil || released.Reason != helmv2.UpgradeFailedReason || !strings.Contains(released.Message, "app@2.0.0") {
		t.Errorf("Released %+v", released)
	}
	if remediated == nil || remediated.Reason != helmv2.RollbackSucceededReason {
		t.Errorf("Remediated %+v", remediated)
	}
	if stalled := apimeta.FindStatusCondition(hr.Status.Conditions, "Stalled"); stalled == nil || stalled.Status != metav1.ConditionTrue ||
		stalled.Reason != "RetriesExceeded" || stalled.Message != "Failed to upgrade after 2 attempt(s)" {
		t.Errorf("retries used up, want Stalled RetriesExceeded: %+v", stalled)
	}
	if ready.Reason != helmv2.RollbackSucceededReason || !strings.Contains(ready.Message, "with chart app@1.0.0 succeeded") {
		t.Errorf("Ready %s %q, want the remediation's reason and message, as Flux", ready.Reason, ready.Message)
	}
	if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != "1.0.0" {
		t.Errorf("after the rollback the ConfigMap says chart %q, want 1.0.0", d["chart"])
	}
}

// TestHelmReleaseFromOCIRepository installs a chart that an OCIRepository copies from a
// registry (chartRef), recording the digest in the attempted revision and the history.
func TestHelmReleaseFromOCIRepository(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	chartData := chartrepo.Package(t, appChart("3.0.0", ""))
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json"),
		mutate.Addendum{Layer: static.NewLayer(chartData, oci.HelmChartContentMediaType)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := oci.ParseArtifact(reg.URL("charts/app")+":3.0.0", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	src := &sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: sourcev1.OCIRepositorySpec{URL: reg.URL("charts/app"), Reference: &sourcev1.OCIRepositoryRef{Tag: "3.0.0"},
			Interval:      metav1.Duration{Duration: time.Hour},
			LayerSelector: &sourcev1.OCILayerSelector{MediaType: oci.HelmChartContentMediaType, Operation: sourcev1.OCILayerCopy}}}
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "app"}}}
	create(t, src, hr)
	hr = waitRelease(t, client.ObjectKey{Namespace: ns, Name: "app"}, metav1.ConditionTrue, nil)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatal(err)
	}
	hex := src.Status.Artifact.Revision[strings.LastIndex(src.Status.Artifact.Revision, ":")+1:]
	if want := "3.0.0+" + hex[:12]; hr.Status.LastAttemptedRevision != want {
		t.Errorf("lastAttemptedRevision %s, want %s", hr.Status.LastAttemptedRevision, want)
	}
	// As Flux: the chart is released as <version>+<digest prefix>; the digests are the manifest's.
	want := "3.0.0+" + hex[:12]
	if h := hr.Status.History[0]; h.OCIDigest != "sha256:"+hex || h.ChartVersion != want {
		t.Errorf("history %+v, want chart version %s and OCI digest sha256:%s", h, want, hex)
	}
	if hr.Status.LastAttemptedRevisionDigest != "sha256:"+hex {
		t.Errorf("lastAttemptedRevisionDigest %s", hr.Status.LastAttemptedRevisionDigest)
	}
	if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != want {
		t.Errorf("released ConfigMap %v, want .Chart.Version %s", d, want)
	}
}

// TestHelmReleaseDependsOn: a release waits for its dependency (DependencyNotReady) and is
// installed as soon as the dependency is released.
func TestHelmReleaseDependsOn(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	dependent := release(ns, "b", "*", "")
	dependent.Spec.DependsOn = []helmv2.DependencyReference{{Name: "a"}}
	create(t, helmRepository(ns, charts.URL()), dependent)
	hr := waitRelease(t, client.ObjectKey{Namespace: ns, Name: "b"}, metav1.ConditionFalse, nil)
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); c.Reason != "DependencyNotReady" ||
		c.Message != fmt.Sprintf("dependency '%s/a' not found", ns) {
		t.Errorf("Ready %s %q", c.Reason, c.Message)
	}
	if _, err := configMapData(t, ns, "b-cm"); !apierrors.IsNotFound(err) {
		t.Errorf("b released before its dependency: %v", err)
	}
	create(t, release(ns, "a", "*", ""))
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "b"}, metav1.ConditionTrue, nil)
	if _, err := configMapData(t, ns, "b-cm"); err != nil {
		t.Errorf("b not released after a: %v", err)
	}
}

// TestHelmReleasePostRenderers: kustomize patches of spec.postRenderers, spec.commonMetadata
// and Flux's own labels land on the released objects.
func TestHelmReleasePostRenderers(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	hr := release(ns, "app", "*", "")
	hr.Spec.PostRenderers = []helmv2.PostRenderer{{Kustomize: &helmv2.Kustomize{Patches: []kustomize.Patch{{
		Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-cm\ndata:\n  patched: \"yes\"\n"}}}}}
	hr.Spec.CommonMetadata = &helmv2.CommonMetadata{Labels: map[string]string{"team": "platform"}, Annotations: map[string]string{"owner": "weir"}}
	create(t, helmRepository(ns, charts.URL()), hr)
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "app"}, metav1.ConditionTrue, nil)
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app-cm"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["patched"] != "yes" || cm.Data["greeting"] != "hello" {
		t.Errorf("data %v, want the patch applied over the chart's", cm.Data)
	}
	for k, v := range map[string]string{"team": "platform", "helm.toolkit.fluxcd.io/name": "app", "helm.toolkit.fluxcd.io/namespace": ns} {
		if cm.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, cm.Labels[k], v, cm.Labels)
		}
	}
	if cm.Annotations["owner"] != "weir" {
		t.Errorf("annotations %v", cm.Annotations)
	}
}

// checkInstalled checks what a first install of appChart 1.0.0 reports and leaves.
func checkInstalled(t *testing.T, hr *helmv2.HelmRelease) {
	t.Helper()
	ns := hr.Namespace
	want := fmt.Sprintf("InstallSucceeded: Helm install succeeded for release %s/app.v1 with chart app@1.0.0", ns)
	if got := readyMessage(hr); got != want {
		t.Errorf("Ready %q, want %q", got, want)
	}
	if hr.Status.HelmChart != ns+"/"+ns+"-app" || len(hr.Status.History) != 1 || hr.Status.History[0].ChartVersion != "1.0.0" ||
		hr.Status.History[0].Status != "deployed" || hr.Status.LastAttemptedRevision != "1.0.0" || hr.Status.StorageNamespace != ns {
		t.Errorf("status %+v", hr.Status)
	}
	if d, err := configMapData(t, ns, "app-cm"); err != nil || d["greeting"] != "hello" {
		t.Fatalf("released ConfigMap %v, %v", d, err)
	}
	if inv := hr.Status.Inventory; inv == nil || len(inv.Entries) != 1 || inv.Entries[0].ID != ns+"_app-cm__ConfigMap" || inv.Entries[0].Version != "v1" {
		t.Errorf("inventory %+v", hr.Status.Inventory)
	}
	// Helm's own record, as the helm CLI lists it.
	var records corev1.SecretList
	if err := env.Client.List(t.Context(), &records, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": "app"}); err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 1 || records.Items[0].Name != "sh.helm.release.v1.app.v1" || records.Items[0].Type != "helm.sh/release.v1" {
		t.Errorf("Helm release records %v", records.Items)
	}

}

// TestHelmReleaseBadInput: a template error, values the chart's schema refuses, a missing
// valuesFrom object, a missing chart version: Ready=False with a reason and a message naming
// what failed, and nothing released.
func TestHelmReleaseBadInput(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	broken := appChart("1.0.0", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  bad: {{ .Values.nope.missing }}\n")
	broken.Name = "broken"
	schema := appChart("1.0.0", "")
	schema.Name = "strict"
	schema.Files["values.schema.json"] = `{"type":"object","properties":{"greeting":{"type":"string","maxLength":5}}}`
	charts.Add(t, broken, schema, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	create(t, helmRepository(ns, charts.URL()))
	mk := func(name, chartName, version, values string, mutate func(*helmv2.HelmRelease)) {
		hr := release(ns, name, version, values)
		hr.Spec.Chart.Spec.Chart = chartName
		if mutate != nil {
			mutate(hr)
		}
		create(t, hr)
	}
	mk("template", "broken", "*", "", nil)
	mk("schema", "strict", "*", `{"greeting":"far too long"}`, nil)
	mk("valuesfrom", "app", "*", "", func(hr *helmv2.HelmRelease) {
		hr.Spec.ValuesFrom = []helmv2.ValuesReference{{Kind: "Secret", Name: "absent"}}
	})
	mk("version", "app", "9.x", "", nil)
	cases := map[string][2]string{
		"template":   {"InstallFailed", "nil pointer evaluating interface {}.missing"},
		"schema":     {"InstallFailed", "greeting"},
		"valuesfrom": {"ValuesError", fmt.Sprintf("could not find Secret '%s/absent'", ns)},
		"version":    {"SourceNotReady", "no 'app' chart with version matching '9.x' found"},
	}
	for name, want := range cases {
		waitRelease(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
			c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
			if c.Reason != want[0] || !strings.Contains(c.Message, want[1]) {
				return fmt.Errorf("%s: Ready %s %q, want %s with %q", name, c.Reason, c.Message, want[0], want[1])
			}
			return nil
		})
	}
	var records corev1.SecretList
	if err := env.Client.List(t.Context(), &records, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "status": "deployed"}); err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 0 {
		t.Errorf("%d deployed releases from bad input", len(records.Items))
	}
}

// TestHelmReleaseCorrectsDrift: with weir's default drift detection (enabled), an
// out-of-band edit of a released object is reverted on the next reconcile; in mode warn it is
// only reported (Drifted=True), and an object labelled driftDetection: disabled is left alone.
func TestHelmReleaseCorrectsDrift(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	warn := release(ns, "warned", "*", "")
	warn.Spec.DriftDetection = &helmv2.DriftDetection{Mode: helmv2.DriftDetectionWarn}
	create(t, helmRepository(ns, charts.URL()), release(ns, "app", "*", ""), warn)
	for _, name := range []string{"app", "warned"} {
		waitRelease(t, client.ObjectKey{Namespace: ns, Name: name}, metav1.ConditionTrue, nil)
	}
	edit := func(name string) {
		t.Helper()
		patch := `{"data":{"greeting":"edited by hand"}}`
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := env.Client.Patch(t.Context(), cm, client.RawPatch("application/merge-patch+json", []byte(patch)),
			client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
	}
	edit("app-cm")
	edit("warned-cm")
	for _, name := range []string{"app", "warned"} {
		env.RequestReconcile(t, hrRef(client.ObjectKey{Namespace: ns, Name: name}))
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "hello" {
			var hr helmv2.HelmRelease
			_ = env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &hr)
			return fmt.Errorf("app-cm greeting %q, want the edit reverted (conditions %+v)", d["greeting"], hr.Status.Conditions)
		}
		return nil
	})
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "warned"}, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		c := apimeta.FindStatusCondition(hr.Status.Conditions, "Drifted")
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "ConfigMap/"+ns+"/warned-cm configured") {
			return fmt.Errorf("Drifted = %+v", c)
		}
		return nil
	})
	var fixed corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app-cm"}, &fixed); err != nil {
		t.Fatal(err)
	}
	if fixed.Labels["app.kubernetes.io/managed-by"] != "Helm" || fixed.Annotations["meta.helm.sh/release-name"] != "app" {
		t.Errorf("the correction lost Helm's ownership metadata: labels %v annotations %v", fixed.Labels, fixed.Annotations)
	}
	if d, _ := configMapData(t, ns, "warned-cm"); d["greeting"] != "edited by hand" {
		t.Errorf("mode warn changed the object: greeting %q", d["greeting"])
	}
}

// playKubelet stands in for the kubelet this control plane lacks: every Pod of ns that
// appears is marked with phase when it is a test hook named name.
func playKubelet(t *testing.T, ns string, phases map[string]corev1.PodPhase) {
	t.Helper()
	ctx := t.Context()
	go func() {
		for ctx.Err() == nil {
			var pods corev1.PodList
			if err := env.Client.List(ctx, &pods, client.InNamespace(ns)); err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					want, ok := phases[p.Name]
					if !ok || p.Status.Phase == want {
						continue
					}
					p.Status.Phase = want
					_ = env.Client.Status().Update(ctx, p)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

// TestHelmReleaseTests runs the chart's test hooks after the install (the test plays the
// kubelet by setting the test Pods' phase): TestSuccess=True and the history records the
// hooks; a failing test fails the release with TestFailed unless ignoreFailures.
func TestHelmReleaseTests(t *testing.T) {
	hook := func(name string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n  - name: t\n    image: busybox\n"
	}
	passing := appChart("1.0.0", hook("{{ .Release.Name }}-test-ok"))
	failing := appChart("1.0.0", hook("{{ .Release.Name }}-test-bad"))
	failing.Name = "failing"
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, passing, failing)
	ns := env.Namespace(t)
	playKubelet(t, ns, map[string]corev1.PodPhase{"ok-test-ok": corev1.PodSucceeded, "bad-test-bad": corev1.PodFailed, "ignored-test-bad": corev1.PodFailed})
	ok := release(ns, "ok", "*", "")
	ok.Spec.Test = &helmv2.Test{Enable: true}
	bad := release(ns, "bad", "*", "")
	bad.Spec.Chart.Spec.Chart = "failing"
	bad.Spec.Test = &helmv2.Test{Enable: true}
	ignored := release(ns, "ignored", "*", "")
	ignored.Spec.Chart.Spec.Chart = "failing"
	ignored.Spec.Test = &helmv2.Test{Enable: true, IgnoreFailures: true}
	create(t, helmRepository(ns, charts.URL()), ok, bad, ignored)

	hr := waitRelease(t, client.ObjectKey{Namespace: ns, Name: "ok"}, metav1.ConditionTrue, nil)
	c := apimeta.FindStatusCondition(hr.Status.Conditions, "TestSuccess")
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != helmv2.TestSucceededReason ||
		!strings.Contains(c.Message, "Helm test succeeded for release "+ns+"/ok.v1 with chart app@1.0.0") {
		t.Errorf("TestSuccess %+v", c)
	}
	if r := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); r.Reason != helmv2.TestSucceededReason {
		t.Errorf("Ready reason %s, want TestSucceeded with tests enabled, as Flux", r.Reason)
	}
	if hooks := hr.Status.History[0].TestHooks; hooks == nil || (*hooks)["ok-test-ok"] == nil || (*hooks)["ok-test-ok"].Phase != "Succeeded" {
		t.Errorf("history test hooks %+v", hr.Status.History[0].TestHooks)
	}
	hr = waitRelease(t, client.ObjectKey{Namespace: ns, Name: "bad"}, metav1.ConditionFalse, nil)
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); c.Reason != helmv2.TestFailedReason {
		t.Errorf("bad: Ready %s %q", c.Reason, c.Message)
	}
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, "TestSuccess"); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("bad: TestSuccess %+v", c)
	}
	hr = waitRelease(t, client.ObjectKey{Namespace: ns, Name: "ignored"}, metav1.ConditionTrue, nil)
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, "TestSuccess"); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("ignored: TestSuccess %+v", c)
	}
}

// TestHelmReleaseNewChartEndsWait: an upgrade waiting on a Deployment that never becomes
// Available (no kubelet here) ends when a new chart version arrives, and the new version is
// released well before the wait's 5-minute timeout.
func TestHelmReleaseNewChartEndsWait(t *testing.T) {
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: waits\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: waits}\n  template:\n    metadata:\n      labels: {app: waits}\n    spec:\n      containers:\n      - name: x\n        image: busybox\n"
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	repo := helmRepository(ns, charts.URL())
	create(t, repo, release(ns, "app", "*", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitRelease(t, key, metav1.ConditionTrue, nil)
	refresh := func() {
		t.Helper()
		env.RequestReconcile(t, repo)
	}
	charts.Add(t, appChart("2.0.0", deploy))
	refresh()
	testenv.Eventually(t, 60*time.Second, func() error {
		var hr helmv2.HelmRelease
		if err := env.Client.Get(t.Context(), key, &hr); err != nil {
			return err
		}
		if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); c == nil || c.Status != metav1.ConditionUnknown ||
			hr.Status.LastAttemptedRevision != "2.0.0" {
			return fmt.Errorf("not waiting on 2.0.0 yet: %s %v", hr.Status.LastAttemptedRevision, c)
		}
		return nil
	})
	// waitRelease's 90-second deadline is well inside the 5-minute wait: only an ended wait
	// lets 3.0.0 through in time.
	charts.Add(t, appChart("3.0.0", ""))
	refresh()
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if hr.Status.LastAttemptedRevision != "3.0.0" {
			return fmt.Errorf("lastAttemptedRevision %s", hr.Status.LastAttemptedRevision)
		}
		return nil
	})
	if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != "3.0.0" {
		t.Errorf("chart %q, want 3.0.0", d["chart"])
	}
}
