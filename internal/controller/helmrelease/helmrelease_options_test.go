package helmrelease_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
)

// crdYAML is a CustomResourceDefinition of kind in group whose schema description says rev.
func crdYAML(group, kind, rev string) string {
	plural := strings.ToLower(kind) + "s"
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[3]s.%[1]s
spec:
  group: %[1]s
  names: {kind: %[2]s, plural: %[3]s, singular: %[4]s, listKind: %[2]sList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: %[5]s
        x-kubernetes-preserve-unknown-fields: true
`, group, kind, plural, strings.ToLower(kind), rev)
}

func crdDescription(t *testing.T, name string) (string, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, &crd); err != nil {
		return "", err
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Description, nil
}

func setVersion(t *testing.T, key client.ObjectKey, mutate func(*helmv2.HelmRelease)) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		var hr helmv2.HelmRelease
		if err := env.Client.Get(t.Context(), key, &hr); err != nil {
			return err
		}
		mutate(&hr)
		return env.Client.Update(t.Context(), &hr)
	})
}

// TestHelmReleaseCRDPolicies: install creates the chart's CRDs (Create); an upgrade leaves
// CRDs alone by default (Skip), creates missing ones with Create without touching existing
// ones, and updates existing ones with CreateReplace. The inventory lists the CRDs.
func TestHelmReleaseCRDPolicies(t *testing.T) {
	ns := env.Namespace(t)
	group := ns + ".weir.test"
	widgets, gadgets := "widgets."+group, "gadgets."+group
	v := func(version, widgetRev string, gadget bool) chartrepo.Chart {
		c := appChart(version, "")
		c.Files["crds/widgets.yaml"] = crdYAML(group, "Widget", widgetRev)
		if gadget {
			c.Files["crds/gadgets.yaml"] = crdYAML(group, "Gadget", "gadget")
		}
		return c
	}
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, v("1.0.0", "first", false), v("2.0.0", "second", true), v("3.0.0", "third", true), v("4.0.0", "fourth", true))
	create(t, helmRepository(ns, charts.URL()), release(ns, "app", "1.0.0", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	hr := waitRelease(t, key, metav1.ConditionTrue, nil)
	if d, err := crdDescription(t, widgets); err != nil || d != "first" {
		t.Fatalf("after install: widgets CRD %q, %v", d, err)
	}
	var ids []string
	for _, e := range hr.Status.Inventory.Entries {
		ids = append(ids, e.ID)
	}
	if want := "_" + widgets + "_apiextensions.k8s.io_CustomResourceDefinition"; !slices.Contains(ids, want) {
		t.Errorf("inventory %v lacks %s", ids, want)
	}

	upgradeTo := func(version string, policy helmv2.CRDsPolicy) {
		t.Helper()
		setVersion(t, key, func(hr *helmv2.HelmRelease) {
			hr.Spec.Chart.Spec.Version = version
			hr.Spec.Upgrade = &helmv2.Upgrade{CRDs: policy}
		})
		waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
			if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != version {
				return fmt.Errorf("chart %q released, want %s", d["chart"], version)
			}
			return nil
		})
	}
	upgradeTo("2.0.0", "") // Skip
	if _, err := crdDescription(t, gadgets); !apierrors.IsNotFound(err) {
		t.Errorf("upgrade with the default CRD policy: gadgets CRD: %v, want not found", err)
	}
	upgradeTo("3.0.0", helmv2.Create)
	if d, err := crdDescription(t, gadgets); err != nil || d != "gadget" {
		t.Errorf("upgrade with Create: gadgets CRD %q, %v", d, err)
	}
	if d, _ := crdDescription(t, widgets); d != "first" {
		t.Errorf("upgrade with Create changed the existing widgets CRD: %q", d)
	}
	upgradeTo("4.0.0", helmv2.CreateReplace)
	if d, _ := crdDescription(t, widgets); d != "fourth" {
		t.Errorf("upgrade with CreateReplace: widgets CRD %q, want fourth", d)
	}
}

// TestHelmReleaseRetryOnFailure: with the RetryOnFailure strategy a failed install is neither
// uninstalled nor stalled: it is retried (as an upgrade) every retryInterval, the failure
// counters growing, and the release goes out once the chart is fixed.
func TestHelmReleaseRetryOnFailure(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  ports:\n  - port: 700000\n"), appChart("1.0.1", ""))
	ns := env.Namespace(t)
	hr := release(ns, "app", "1.0.0", "")
	retry := &metav1.Duration{Duration: time.Second}
	hr.Spec.Install = &helmv2.Install{Strategy: &helmv2.InstallStrategy{Name: "RetryOnFailure", RetryInterval: retry},
		Remediation: &helmv2.InstallRemediation{Retries: 3}}
	hr.Spec.Upgrade = &helmv2.Upgrade{Strategy: &helmv2.UpgradeStrategy{Name: "RetryOnFailure", RetryInterval: retry}}
	create(t, helmRepository(ns, charts.URL()), hr)
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	hr = waitRelease(t, key, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		if hr.Status.InstallFailures != 1 || hr.Status.UpgradeFailures < 2 {
			return fmt.Errorf("%d install and %d upgrade failures, want 1 and at least 2", hr.Status.InstallFailures, hr.Status.UpgradeFailures)
		}
		return nil
	})
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Remediated"); c != nil {
		t.Errorf("RetryOnFailure remediated: %+v", c)
	}
	if apimeta.IsStatusConditionTrue(hr.Status.Conditions, "Stalled") {
		t.Errorf("RetryOnFailure stalled: %s", readyMessage(hr))
	}
	if r := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); r.Reason != helmv2.UpgradeFailedReason || !strings.Contains(r.Message, "700000") {
		t.Errorf("Ready %s", readyMessage(hr))
	}
	hist, err := helmStorage(t, ns).Releases.History("app")
	if err != nil || len(hist) < 2 {
		t.Fatalf("release records %d, %v: the failed install was not kept and retried", len(hist), err)
	}
	setVersion(t, key, func(hr *helmv2.HelmRelease) { hr.Spec.Chart.Spec.Version = "1.0.1" })
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != "1.0.1" {
			return fmt.Errorf("chart %q released", d["chart"])
		}
		return nil
	})
}

// TestHelmReleaseTargetChanges: a new releaseName uninstalls the old release and installs the
// new one; so does a chart of another name (Reinstall, the default), while InPlaceUpdate
// upgrades the release in place.
func TestHelmReleaseTargetChanges(t *testing.T) {
	other := appChart("1.0.0", "")
	other.Name = "other"
	third := appChart("1.0.0", "")
	third.Name = "third"
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""), other, third)
	ns := env.Namespace(t)
	create(t, helmRepository(ns, charts.URL()), release(ns, "app", "*", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitRelease(t, key, metav1.ConditionTrue, nil)
	ac := helmStorage(t, ns)

	setVersion(t, key, func(hr *helmv2.HelmRelease) { hr.Spec.ReleaseName = "renamed" })
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if _, err := configMapData(t, ns, "renamed-cm"); err != nil {
			return fmt.Errorf("new release: %w", err)
		}
		if _, err := configMapData(t, ns, "app-cm"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("old release's ConfigMap: %w, want it uninstalled", err)
		}
		if l := hr.Status.History.Latest(); l == nil || l.Name != "renamed" || len(hr.Status.History) != 1 {
			return fmt.Errorf("history %+v", hr.Status.History)
		}
		return nil
	})
	if _, err := ac.Releases.Last("app"); err == nil {
		t.Error("the old release's records are still there")
	}

	setVersion(t, key, func(hr *helmv2.HelmRelease) { hr.Spec.Chart.Spec.Chart = "other" })
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		l := hr.Status.History.Latest()
		if l == nil || l.ChartName != "other" || l.Version != 1 || l.Action != helmv2.ReleaseActionInstall {
			return fmt.Errorf("latest snapshot %+v, want a fresh install of chart other", l)
		}
		return nil
	})

	setVersion(t, key, func(hr *helmv2.HelmRelease) {
		hr.Spec.Chart.Spec.Chart = "third"
		hr.Spec.Upgrade = &helmv2.Upgrade{ChartNameChangeStrategy: helmv2.ChartNameChangeStrategyInPlaceUpdate}
	})
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		l := hr.Status.History.Latest()
		if l == nil || l.ChartName != "third" || l.Version != 2 || l.Action != helmv2.ReleaseActionUpgrade {
			return fmt.Errorf("latest snapshot %+v, want an in-place upgrade to chart third", l)
		}
		return nil
	})
	last, err := ac.Releases.Last("renamed")
	if err != nil || last.(*releasev1.Release).Chart.Metadata.Name != "third" {
		t.Errorf("helm's last record of renamed: %v", err)
	}
}

// TestHelmReleaseDriftIgnore: fields named by driftDetection.ignore keep their out-of-band
// values while the rest of the object is corrected.
func TestHelmReleaseDriftIgnore(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	hr := release(ns, "app", "*", "")
	hr.Spec.DriftDetection = &helmv2.DriftDetection{Mode: helmv2.DriftDetectionEnabled, Ignore: []helmv2.IgnoreRule{
		{Paths: []string{"/data/greeting"}, Target: &kustomize.Selector{Kind: "ConfigMap", Name: "app-.*"}},
		{Paths: []string{"/data/chart"}, Target: &kustomize.Selector{Kind: "Secret"}}, // matches nothing here
	}}
	create(t, helmRepository(ns, charts.URL()), hr)
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitRelease(t, key, metav1.ConditionTrue, nil)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-cm"}}
	patch := `{"data":{"greeting":"kept","chart":"edited"}}`
	if err := env.Client.Patch(t.Context(), cm, client.RawPatch("application/merge-patch+json", []byte(patch)), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	env.RequestReconcile(t, hrRef(key))
	testenv.Eventually(t, 60*time.Second, func() error {
		d, err := configMapData(t, ns, "app-cm")
		if err != nil {
			return err
		}
		if d["chart"] != "1.0.0" {
			return fmt.Errorf("chart %q, want the edit of a watched field reverted", d["chart"])
		}
		return nil
	})
	if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "kept" {
		t.Errorf("greeting %q: an ignored field was corrected", d["greeting"])
	}
}

// hrRef is the HelmRelease of key, to patch.
func hrRef(key client.ObjectKey) *helmv2.HelmRelease {
	return &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
}

// TestHelmReleaseHealthCheckExprs: healthCheckExprs decide when the release's objects are
// ready (an install waits for a ConfigMap the expression does not find current, and fails at
// its timeout); an expression that does not compile stalls the release.
func TestHelmReleaseHealthCheckExprs(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	waiting := release(ns, "waiting", "*", "")
	waiting.Spec.Timeout = &metav1.Duration{Duration: 3 * time.Second}
	waiting.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
		HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: "data.greeting == 'ready'"}}}
	invalid := release(ns, "invalid", "*", "")
	invalid.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
		HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: "data.greeting =="}}}
	create(t, helmRepository(ns, charts.URL()), waiting, invalid)
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "waiting"}, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Released"); c == nil || c.Reason != helmv2.InstallFailedReason {
			return fmt.Errorf("Released %+v, want InstallFailed after the wait timed out", c)
		}
		return nil
	})
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "invalid"}, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
		if c.Reason != "InvalidCELExpression" || !apimeta.IsStatusConditionTrue(hr.Status.Conditions, "Stalled") {
			return fmt.Errorf("Ready %s, want stalled with InvalidCELExpression", readyMessage(hr))
		}
		return nil
	})
	setVersion(t, client.ObjectKey{Namespace: ns, Name: "waiting"}, func(hr *helmv2.HelmRelease) {
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"greeting":"ready"}`)}
	})
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "waiting"}, metav1.ConditionTrue, nil)
}

// TestHelmReleaseSourceNotReady: a version bump to a chart version that does not exist leaves
// the HelmChart with its last artifact but not ready; the HelmRelease reports SourceNotReady
// with the HelmChart's reason, and the installed release stays as it was.
func TestHelmReleaseSourceNotReady(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	create(t, helmRepository(ns, charts.URL()), release(ns, "app", "1.0.0", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitRelease(t, key, metav1.ConditionTrue, nil)
	setVersion(t, key, func(hr *helmv2.HelmRelease) { hr.Spec.Chart.Spec.Version = "9.9.9" })
	waitRelease(t, key, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
		if c.Reason != "SourceNotReady" || !strings.Contains(c.Message, "HelmChart '"+ns+"/"+ns+"-app' is not ready") ||
			!strings.Contains(c.Message, "9.9.9") {
			return fmt.Errorf("Ready %s %q, want SourceNotReady naming the HelmChart and the version", c.Reason, c.Message)
		}
		return nil
	})
	if d, _ := configMapData(t, ns, "app-cm"); d["chart"] != "1.0.0" {
		t.Errorf("the release changed: chart %q", d["chart"])
	}
}

// TestHelmReleaseDropsOldHelmChart: moving from spec.chart to spec.chartRef deletes the
// HelmChart spec.chart created and clears status.helmChart, as Flux does.
func TestHelmReleaseDropsOldHelmChart(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	create(t, helmRepository(ns, charts.URL()), release(ns, "app", "*", ""))
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	hr := waitRelease(t, key, metav1.ConditionTrue, nil)
	if hr.Status.HelmChart != ns+"/"+ns+"-app" {
		t.Fatalf("status.helmChart %q", hr.Status.HelmChart)
	}
	setVersion(t, key, func(hr *helmv2.HelmRelease) {
		hr.Spec.Chart = nil
		hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "not-yet"}
	})
	testenv.Eventually(t, 30*time.Second, func() error {
		var got helmv2.HelmRelease
		if err := env.Client.Get(t.Context(), key, &got); err != nil {
			return err
		}
		if got.Status.HelmChart != "" {
			return fmt.Errorf("status.helmChart still %q", got.Status.HelmChart)
		}
		var hc sourcev1.HelmChart
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: ns + "-app"}, &hc); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the old HelmChart is still there (%w)", err)
		}
		return nil
	})
}
