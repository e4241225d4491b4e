package cli_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// seedHelm creates a Ready HelmRepository, its HelmChart and a HelmRelease with one release in
// history, plus an Alert and a Provider.
func seedHelm(t *testing.T, ns string) {
	t.Helper()
	repo := &sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: sourcev1.HelmRepositorySpec{URL: "https://stefanprodan.github.io/podinfo", Interval: metav1.Duration{Duration: time.Hour}}}
	if err := env.Client.Create(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	setReady(t, repo, &repo.Status.Conditions, metav1.ConditionTrue, "Succeeded", "stored artifact: revision 'sha256:abcd'",
		func() { repo.Status.Artifact = artifact("sha256:abcd") })
	chart := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Name: ns + "-podinfo", Namespace: ns},
		Spec: sourcev1.HelmChartSpec{Chart: "podinfo", Version: "6.x", Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: "HelmRepository", Name: "podinfo"}}}
	if err := env.Client.Create(t.Context(), chart); err != nil {
		t.Fatal(err)
	}
	setReady(t, chart, &chart.Status.Conditions, metav1.ConditionTrue, "ChartPullSucceeded", "pulled 'podinfo' chart with version '6.5.0'",
		func() { chart.Status.Artifact = artifact("6.5.0") })
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{Chart: "podinfo", Version: "6.x",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: "HelmRepository", Name: "podinfo"}}}}}
	if err := env.Client.Create(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	setReady(t, hr, &hr.Status.Conditions, metav1.ConditionTrue, "InstallSucceeded", "Helm install succeeded for release podinfo/podinfo.v1 with chart podinfo@6.5.0",
		func() {
			hr.Status.HelmChart = ns + "/" + ns + "-podinfo"
			hr.Status.History = helmv2.Snapshots{{Name: "podinfo", Namespace: ns, Version: 1, Status: "deployed", Digest: "sha256:1",
				ChartName: "podinfo", ChartVersion: "6.5.0", ConfigDigest: "sha256:2", FirstDeployed: now, LastDeployed: now}}
		})
	alert := &notificationv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: "on-call", Namespace: ns},
		Spec: notificationv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: "slack"},
			EventSources: []notificationv1.CrossNamespaceObjectReference{{Kind: "HelmRelease", Name: "*"}}}}
	if err := env.Client.Create(t.Context(), alert); err != nil {
		t.Fatal(err)
	}
	provider := &notificationv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: "slack", Namespace: ns},
		Spec: notificationv1beta3.ProviderSpec{Type: "slack"}}
	if err := env.Client.Create(t.Context(), provider); err != nil {
		t.Fatal(err)
	}
}

func TestGetHelmAndNotifications(t *testing.T) {
	ns := env.Namespace(t)
	seedHelm(t, ns)
	for name, args := range map[string][]string{
		"get_helmreleases.golden":    {"get", "hr"},
		"get_sources_helm.golden":    {"get", "sources", "helm"},
		"get_sources_chart.golden":   {"get", "sources", "chart"},
		"get_alerts.golden":          {"get", "alerts"},
		"get_alert_providers.golden": {"get", "alert-providers"},
		"get_all_helm.golden":        {"get", "all"},
	} {
		out, errOut, code := weir(t, nil, append(args, "-n", ns)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		golden(t, name, ns, out)
	}
	out, _, code := weir(t, nil, "get", "alerts", "--status-selector", "ready=true", "-n", ns)
	if code != 0 || strings.Contains(out, "on-call") {
		t.Errorf("status selector on alerts (no status) matched: %s", out)
	}
}

func TestGetWatch(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	out, errOut, code := weir(t, nil, "get", "ks", "--watch", "--timeout=2s", "-n", ns)
	if code != 0 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "apps") {
		t.Errorf("get --watch: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestTraceHelmRelease(t *testing.T) {
	ns := env.Namespace(t)
	seedHelm(t, ns)
	svc := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "podinfo-config", Namespace: ns,
		Labels: map[string]string{"helm.toolkit.fluxcd.io/name": "podinfo", "helm.toolkit.fluxcd.io/namespace": ns}}}
	if err := env.Client.Create(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := weir(t, nil, "trace", "configmap/podinfo-config", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out = regexp.MustCompile(`Last reconciled at .*`).ReplaceAllString(out, "Last reconciled at TIME")
	golden(t, "trace_helmrelease.golden", ns, out)
}

func TestTreeHelmReleaseStorage(t *testing.T) {
	ns := env.Namespace(t)
	seedHelm(t, ns)
	withInventory(t, ns, "root", ns+"_podinfo_helm.toolkit.fluxcd.io_HelmRelease")
	manifest := "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n  namespace: " + ns + "\n"
	rel, _ := json.Marshal(map[string]any{"name": "podinfo", "manifest": manifest})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(rel)
	_ = zw.Close()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sh.helm.release.v1.podinfo.v1", Namespace: ns,
		Labels: map[string]string{"owner": "helm", "name": "podinfo", "status": "deployed", "version": "1"}},
		Type: "helm.sh/release.v1", Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(gz.Bytes()))}}
	if err := env.Client.Create(t.Context(), s, client.FieldOwner("helm")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := weir(t, nil, "tree", "ks", "root", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "tree_helmrelease.golden", ns, out)
}
