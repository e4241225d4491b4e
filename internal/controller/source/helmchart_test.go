package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

func podinfo(version string, extra map[string]string) chartrepo.Chart {
	files := map[string]string{
		"values.yaml":                "replicaCount: 1\nimage:\n  tag: " + version + "\n",
		"values-prod.yaml":           "replicaCount: 3\n",
		"templates/deployment.yaml":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n",
		"templates/serviceacct.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return chartrepo.Chart{Name: "podinfo", Version: version, Files: files}
}

func helmRepository(ns, name, url string) *sourcev1.HelmRepository {
	return &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       sourcev1.HelmRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour}},
	}
}

func helmChart(ns, name, chart, version, kind, source string) *sourcev1.HelmChart {
	return &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.HelmChartSpec{Chart: chart, Version: version, Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: kind, Name: source}},
	}
}

// waitReadyOf waits until obj (re-read into it) has Ready with status for its generation and
// check passes; it returns the Ready condition.
func waitReadyOf[T conditioned](t *testing.T, obj T, status metav1.ConditionStatus, check func() error) *metav1.Condition {
	t.Helper()
	waitSource(t, client.ObjectKeyFromObject(obj), obj, status, func(T) error {
		if check != nil {
			return check()
		}
		return nil
	})
	return apimeta.FindStatusCondition(obj.GetConditions(), "Ready")
}

// tgzFiles lists the files of a chart archive.
func tgzFiles(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

// TestHelmRepositoryAndChart fetches an index, stores it, and pulls charts from it: a semver
// range picks the highest stable version and stores the archive as served; valuesFiles are
// merged and the chart packaged again with the generation as build metadata.
func TestHelmRepositoryAndChart(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{Username: "helm", Password: "chart-pass-31"})
	charts.Add(t, podinfo("6.0.0", nil), podinfo("6.1.0", nil), podinfo("7.0.0-rc.1", nil))
	ns := env.Namespace(t)
	createSecret(t, ns, "charts-auth", map[string][]byte{"username": []byte("helm"), "password": []byte("chart-pass-31")})
	repo := helmRepository(ns, "podinfo", charts.URL())
	repo.Spec.SecretRef = &meta.LocalObjectReference{Name: "charts-auth"}
	create(t, repo)
	ready := waitReadyOf(t, repo, metav1.ConditionTrue, nil)
	if want := fmt.Sprintf("stored artifact: revision '%s'", repo.Status.Artifact.Revision); ready.Message != want ||
		!strings.HasPrefix(repo.Status.Artifact.Revision, "sha256:") {
		t.Errorf("HelmRepository Ready %q, artifact %+v", ready.Message, repo.Status.Artifact)
	}
	if idx := string(fetchStored(t, repo.Status.Artifact)); !strings.Contains(idx, "podinfo") || !strings.Contains(idx, "6.1.0") {
		t.Errorf("stored index lacks the charts:\n%s", idx)
	}

	pulled := helmChart(ns, "pulled", "podinfo", "6.x", sourcev1.HelmRepositoryKind, "podinfo")
	create(t, pulled)
	merged := helmChart(ns, "merged", "podinfo", ">=6.0.0 <7.0.0", sourcev1.HelmRepositoryKind, "podinfo")
	merged.Spec.ValuesFiles = []string{"values.yaml", "values-prod.yaml"}
	create(t, merged)

	ready = waitReadyOf(t, pulled, metav1.ConditionTrue, nil)
	if ready.Reason != "ChartPullSucceeded" || ready.Message != "pulled 'podinfo' chart with version '6.1.0'" ||
		pulled.Status.Artifact.Revision != "6.1.0" || pulled.Status.ObservedChartName != "podinfo" {
		t.Errorf("pulled: Ready %s %q, artifact %+v", ready.Reason, ready.Message, pulled.Status.Artifact)
	}
	served, err := getURL(t, charts.URL()+"/podinfo-6.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	if got := fetchStored(t, pulled.Status.Artifact); !bytes.Equal(got, served) {
		t.Errorf("pulled chart differs from the repository's archive")
	}
	if !strings.HasSuffix(pulled.Status.Artifact.Path, "helmchart/"+ns+"/pulled/podinfo-6.1.0.tgz") {
		t.Errorf("artifact path %s", pulled.Status.Artifact.Path)
	}

	ready = waitReadyOf(t, merged, metav1.ConditionTrue, nil)
	if ready.Reason != "ChartPackageSucceeded" || merged.Status.Artifact.Revision != "6.1.0+1" ||
		ready.Message != "packaged 'podinfo' chart with version '6.1.0+1' and merged values files [values.yaml values-prod.yaml]" {
		t.Errorf("merged: Ready %s %q, artifact %+v", ready.Reason, ready.Message, merged.Status.Artifact)
	}
	files := tgzFiles(t, fetchStored(t, merged.Status.Artifact))
	if v := files["podinfo/values.yaml"]; !strings.Contains(v, "replicaCount: 3") || !strings.Contains(v, "tag: 6.1.0") {
		t.Errorf("merged values.yaml:\n%s", v)
	}
	if !strings.Contains(files["podinfo/Chart.yaml"], "version: 6.1.0+1") {
		t.Errorf("packaged Chart.yaml:\n%s", files["podinfo/Chart.yaml"])
	}

	// A new version in the repository: the index changes, the chart follows.
	charts.Add(t, podinfo("6.2.0", nil))
	env.RequestReconcile(t, repo)
	waitReadyOf(t, pulled, metav1.ConditionTrue, func() error {
		if pulled.Status.Artifact.Revision != "6.2.0" {
			return fmt.Errorf("revision %s", pulled.Status.Artifact.Revision)
		}
		return nil
	})
}

// getURL downloads url with the chart repository's credentials.
func getURL(t *testing.T, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("helm", "chart-pass-31")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestHelmChartBadInput: a chart or version the index lacks, a missing values file, an
// archive with a path leaving the chart, a malformed index, wrong credentials: Ready=False
// with Flux's reasons, naming what failed.
func TestHelmChartBadInput(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, podinfo("6.1.0", nil))
	var evil bytes.Buffer
	zw := gzip.NewWriter(&evil)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{
		{"evil/Chart.yaml", "apiVersion: v2\nname: evil\nversion: 1.0.0\n"},
		{"evil/../../escape.yaml", "x: 1\n"},
	} {
		_ = tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(f.body))
	}
	_ = tw.Close()
	_ = zw.Close()
	charts.AddArchive(t, "evil", "1.0.0", evil.Bytes())
	ns := env.Namespace(t)
	repo := helmRepository(ns, "charts", charts.URL())
	create(t, repo)
	// Charts wait with NoSourceArtifact until the index is fetched: not what is tested here.
	waitReadyOf(t, repo, metav1.ConditionTrue, nil)

	cases := []struct {
		chart, version string
		values         []string
		reason, msg    string
		stalled        bool
	}{
		{"nope", "*", nil, "InvalidChartReference", "no chart name 'nope' in the index", true},
		{"podinfo", "9.x", nil, "InvalidChartReference", "no 'podinfo' chart with version matching '9.x' found", true},
		{"podinfo", "6.1.0", []string{"values-missing.yaml"}, "ValuesFilesError", "no values file found at path 'values-missing.yaml'", true},
		{"evil", "1.0.0", nil, "ChartPullError", "chart illegally references parent directory", false},
	}
	for i, c := range cases {
		hc := helmChart(ns, fmt.Sprintf("bad-%d", i), c.chart, c.version, sourcev1.HelmRepositoryKind, "charts")
		hc.Spec.ValuesFiles = c.values
		create(t, hc)
		ready := waitReadyOf(t, hc, metav1.ConditionFalse, nil)
		if ready.Reason != c.reason || !strings.Contains(ready.Message, c.msg) ||
			apimeta.IsStatusConditionTrue(hc.Status.Conditions, "Stalled") != c.stalled {
			t.Errorf("%s@%s: Ready %s %q stalled=%v, want %s %q stalled=%v", c.chart, c.version, ready.Reason, ready.Message,
				apimeta.IsStatusConditionTrue(hc.Status.Conditions, "Stalled"), c.reason, c.msg, c.stalled)
		}
		if hc.Status.Artifact != nil {
			t.Errorf("%s: artifact stored: %+v", hc.Name, hc.Status.Artifact)
		}
	}
	ignored := helmChart(ns, "ignored", "podinfo", "6.1.0", sourcev1.HelmRepositoryKind, "charts")
	ignored.Spec.ValuesFiles = []string{"values.yaml", "values-missing.yaml"}
	ignored.Spec.IgnoreMissingValuesFiles = true
	create(t, ignored)
	waitReadyOf(t, ignored, metav1.ConditionTrue, func() error {
		if fmt.Sprint(ignored.Status.ObservedValuesFiles) != "[values.yaml]" {
			return fmt.Errorf("observedValuesFiles %v", ignored.Status.ObservedValuesFiles)
		}
		return nil
	})

	broken := chartrepo.New(t, chartrepo.Options{})
	broken.SetRaw("/index.yaml", []byte("entries: [this is not an index"))
	authRepo := chartrepo.New(t, chartrepo.Options{Username: "u", Password: "right-pass"})
	createSecret(t, ns, "wrong", map[string][]byte{"username": []byte("u"), "password": []byte("wrong-pass-42")})
	bad := helmRepository(ns, "broken", broken.URL())
	create(t, bad)
	denied := helmRepository(ns, "denied", authRepo.URL())
	denied.Spec.SecretRef = &meta.LocalObjectReference{Name: "wrong"}
	create(t, denied)
	for obj, reason := range map[*sourcev1.HelmRepository]string{bad: "IndexationFailed", denied: "AuthenticationFailed"} {
		ready := waitReadyOf(t, obj, metav1.ConditionFalse, nil)
		fetch := apimeta.FindStatusCondition(obj.Status.Conditions, "FetchFailed")
		if ready.Reason != reason || fetch == nil || strings.Contains(ready.Message, "wrong-pass-42") {
			t.Errorf("%s: Ready %s %q FetchFailed %+v, want %s", obj.Name, ready.Reason, ready.Message, fetch, reason)
		}
	}
}

// TestHelmChartFromGit packages a chart kept in a Git repository, with both reconcile
// strategies and values files relative to the repository's root.
func TestHelmChartFromGit(t *testing.T) {
	root := gitserver.NewRoot(t)
	files := map[string]string{"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.2.3\n",
		"charts/app/values.yaml":        "color: blue\n",
		"charts/app/templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  color: {{ .Values.color }}\n",
		"environments/prod/values.yaml": "color: red\n"}
	commit := root.NewRepo("charts").Commit("main", "chart", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ns := env.Namespace(t)
	create(t, newGitRepository(ns, "charts", srv.RepoURL("charts"), &sourcev1.GitRepositoryRef{Branch: "main"}, ""))

	byVersion := helmChart(ns, "by-version", "./charts/app", "", sourcev1.GitRepositoryKind, "charts")
	create(t, byVersion)
	byRevision := helmChart(ns, "by-revision", "./charts/app", "", sourcev1.GitRepositoryKind, "charts")
	byRevision.Spec.ReconcileStrategy = sourcev1.ReconcileStrategyRevision
	byRevision.Spec.ValuesFiles = []string{"charts/app/values.yaml", "environments/prod/values.yaml"}
	create(t, byRevision)
	escape := helmChart(ns, "escape", "../../etc", "", sourcev1.GitRepositoryKind, "charts")
	create(t, escape)

	ready := waitReadyOf(t, byVersion, metav1.ConditionTrue, nil)
	if ready.Reason != "ChartPackageSucceeded" || byVersion.Status.Artifact.Revision != "1.2.3" ||
		byVersion.Status.ObservedSourceArtifactRevision != "main@sha1:"+commit {
		t.Errorf("by-version: Ready %s %q, status %+v", ready.Reason, ready.Message, byVersion.Status)
	}
	waitReadyOf(t, byRevision, metav1.ConditionTrue, nil)
	if want := "1.2.3+" + commit[:12] + ".1"; byRevision.Status.Artifact.Revision != want {
		t.Errorf("by-revision: revision %s, want %s", byRevision.Status.Artifact.Revision, want)
	}
	if v := tgzFiles(t, fetchStored(t, byRevision.Status.Artifact))["app/values.yaml"]; !strings.Contains(v, "color: red") {
		t.Errorf("by-revision values.yaml:\n%s", v)
	}
	ready = waitReadyOf(t, escape, metav1.ConditionFalse, nil)
	if ready.Reason != "InvalidChartReference" {
		t.Errorf("escape: Ready %s %q", ready.Reason, ready.Message)
	}
}

// TestHelmChartFromOCIRepository pulls charts from an OCI HelmRepository (which stays a static
// object without status, as in Flux): a semver range resolves through the registry's tags,
// a version names a tag.
func TestHelmChartFromOCIRepository(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	older, newer := chartrepo.Package(t, podinfo("6.4.0", nil)), chartrepo.Package(t, podinfo("6.5.0", nil))
	pushChart(t, reg, "charts/podinfo", "6.4.0", older)
	pushChart(t, reg, "charts/podinfo", "6.5.0", newer)
	ns := env.Namespace(t)
	repo := helmRepository(ns, "oci-charts", "oci://"+reg.Host()+"/charts")
	repo.Spec.Type = sourcev1.HelmRepositoryTypeOCI
	repo.Spec.Insecure = true
	create(t, repo)
	latest := helmChart(ns, "latest", "podinfo", "6.x", sourcev1.HelmRepositoryKind, "oci-charts")
	create(t, latest)
	pinned := helmChart(ns, "pinned", "podinfo", "6.4.0", sourcev1.HelmRepositoryKind, "oci-charts")
	create(t, pinned)

	ready := waitReadyOf(t, latest, metav1.ConditionTrue, nil)
	if ready.Message != "pulled 'podinfo' chart with version '6.5.0'" || !bytes.Equal(fetchStored(t, latest.Status.Artifact), newer) {
		t.Errorf("latest: Ready %q, artifact %+v", ready.Message, latest.Status.Artifact)
	}
	waitReadyOf(t, pinned, metav1.ConditionTrue, nil)
	if pinned.Status.Artifact.Revision != "6.4.0" || !bytes.Equal(fetchStored(t, pinned.Status.Artifact), older) {
		t.Errorf("pinned: artifact %+v", pinned.Status.Artifact)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(repo), repo); err != nil {
		t.Fatal(err)
	}
	if len(repo.Status.Conditions) != 0 || repo.Status.Artifact != nil || len(repo.Finalizers) != 0 {
		t.Errorf("OCI HelmRepository has status %+v finalizers %v, want a static object", repo.Status, repo.Finalizers)
	}
}
