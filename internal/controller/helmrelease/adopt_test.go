package helmrelease_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
)

// TestHelmReleaseAdoptsFluxRelease: a release that Flux's helm-controller installed (Helm's
// own storage records, and the HelmRelease status Flux wrote: history, lastAttempted*) is
// taken over by weir without a reinstall or an upgrade, and upgraded when its values change.
func TestHelmReleaseAdoptsFluxRelease(t *testing.T) {
	app := appChart("1.0.0", "")
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, app)
	ns := env.Namespace(t)
	values := map[string]any{"greeting": "from flux"}

	// What helm-controller leaves: a release installed with the Helm SDK...
	ch, err := loader.LoadArchive(bytes.NewReader(chartrepo.Package(t, app)))
	if err != nil {
		t.Fatal(err)
	}
	ac := helmStorage(t, ns)
	in := action.NewInstall(ac)
	in.ReleaseName, in.Namespace, in.WaitStrategy = "app", ns, kube.HookOnlyStrategy
	if _, err := in.RunWithContext(t.Context(), ch, values); err != nil {
		t.Fatal(err)
	}
	// ...and a HelmRelease whose status records it (created suspended here so that nothing
	// reconciles it before the status is written, as Flux would have had it).
	hr := release(ns, "app", "1.0.0", `{"greeting":"from flux"}`)
	hr.Spec.Suspend = true
	create(t, helmRepository(ns, charts.URL()), hr)
	now := metav1.Now()
	status := helmv2.HelmReleaseStatus{
		ObservedGeneration: hr.Generation, StorageNamespace: ns, HelmChart: ns + "/" + ns + "-app",
		LastAttemptedRevision: "1.0.0", LastAttemptedGeneration: hr.Generation, LastAttemptedReleaseAction: helmv2.ReleaseActionInstall,
		History: helmv2.Snapshots{{APIVersion: "v1", Name: "app", Namespace: ns, Version: 1, Status: "deployed",
			ChartName: "app", ChartVersion: "1.0.0", FirstDeployed: now, LastDeployed: now, Action: helmv2.ReleaseActionInstall}},
		Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: helmv2.InstallSucceededReason,
			Message: "Helm install succeeded", LastTransitionTime: now, ObservedGeneration: hr.Generation}},
	}
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := env.Client.Get(t.Context(), key, hr); err != nil {
			return err
		}
		hr.Status = status
		return env.Client.Status().Update(t.Context(), hr)
	})
	setVersion(t, key, func(hr *helmv2.HelmRelease) { hr.Spec.Suspend = false })
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if hr.Generation < 2 {
			return fmt.Errorf("generation %d: not resumed yet", hr.Generation)
		}
		return nil
	})
	hist, err := ac.Releases.History("app")
	if err != nil || len(hist) != 1 {
		t.Fatalf("release records after adoption: %d, %v; want Flux's one, untouched", len(hist), err)
	}
	if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "from flux" {
		t.Errorf("greeting %q", d["greeting"])
	}

	setVersion(t, key, func(hr *helmv2.HelmRelease) {
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"greeting":"from weir"}`)}
	})
	waitRelease(t, key, metav1.ConditionTrue, func(hr *helmv2.HelmRelease) error {
		if l := hr.Status.History.Latest(); l == nil || l.Version != 2 {
			return fmt.Errorf("history %+v, want an upgrade to v2", hr.Status.History)
		}
		return nil
	})
	testenv.Eventually(t, 10*time.Second, func() error {
		if d, _ := configMapData(t, ns, "app-cm"); d["greeting"] != "from weir" {
			return fmt.Errorf("greeting %q", d["greeting"])
		}
		return nil
	})
}
