//go:build faults

package faults_test

import (
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/testenv/s3server"
)

// TestHostilePathsInSpecs climbs out of artifacts through the fields of objects rather than
// through files: a Kustomization's spec.path, a HelmChart's chart path and valuesFiles (of a
// GitRepository's chart), and bucket keys that climb out or are absolute.
// Oracles: each object reports Ready=False naming the path or key; nothing is written next to
// the artifact store; the canary (a file there) appears nowhere.
func TestHostilePathsInSpecs(t *testing.T) {
	w := newWorld(t)
	w.repo("charts", map[string]string{
		"charts/app/Chart.yaml":        "apiVersion: v2\nname: app\nversion: 1.0.0\n",
		"charts/app/values.yaml":       "greeting: hello\n",
		"charts/app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
		"apps/kustomization.yaml":      kustomizationFile("resources: [cm.yaml]\n"),
		"apps/cm.yaml":                 configMap("apps", "x"),
	})
	s3 := s3server.New(t, s3server.Options{})
	s3.CreateBucket(t, "climb")
	s3.Put(t, "climb", "ok.yaml", configMap("bucket", "x"))
	s3.Put(t, "climb", "../../../escaped-key.yaml", "escaped")
	s3.CreateBucket(t, "absolute")
	s3.Put(t, "absolute", w.base+"/escaped-abs-key.yaml", "escaped")

	w.kustomization("spec-path", "charts", climb(w.base))
	w.createYAML(
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: values-files}\nspec: {chart: ./charts/app, interval: 1h, sourceRef: {kind: GitRepository, name: charts}, valuesFiles: [charts/app/values.yaml, %q]}", climb(w.Canary())),
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: chart-path}\nspec: {chart: %q, interval: 1h, sourceRef: {kind: GitRepository, name: charts}}", climb(w.base)),
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: Bucket\nmetadata: {name: climb}\nspec: {bucketName: climb, endpoint: %q, insecure: true, interval: 1h}", s3.Endpoint()),
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: Bucket\nmetadata: {name: absolute}\nspec: {bucketName: absolute, endpoint: %q, insecure: true, interval: 1h}", s3.Endpoint()),
	)
	before := dirNames(t, w.base)
	w.start(nil)

	for _, c := range []struct {
		obj       *conditioned
		fragments []string
	}{
		{object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", w.ns, "spec-path"), []string{"kustomization path not found"}},
		{object("source.toolkit.fluxcd.io/v1", "HelmChart", w.ns, "values-files"), []string{"canary.txt"}},
		{object("source.toolkit.fluxcd.io/v1", "HelmChart", w.ns, "chart-path"), nil},
		{object("source.toolkit.fluxcd.io/v1", "Bucket", w.ns, "climb"), []string{"escaped-key.yaml"}},
		{object("source.toolkit.fluxcd.io/v1", "Bucket", w.ns, "absolute"), []string{"escaped-abs-key.yaml"}},
	} {
		msg := w.waitCondition(c.obj, meta.ReadyCondition, metav1.ConditionFalse, "", 2*time.Minute, c.fragments...)
		t.Logf("%s/%s: %s", c.obj.GetKind(), c.obj.GetName(), msg)
	}
	k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "spec-path"}}
	if err := env.Client.Get(t.Context(), clientKey(k), k); err == nil && k.Status.Inventory != nil && len(k.Status.Inventory.Entries) > 0 {
		t.Errorf("the Kustomization whose path climbs out applied %v", k.Status.Inventory.Entries)
	}
	if after := dirNames(t, w.base); fmt.Sprint(after) != fmt.Sprint(before) && fmt.Sprint(after) != fmt.Sprint(append(before, "storage", "tmp")) {
		t.Errorf("files appeared next to the artifact store: %v, was %v", after, before)
	}
	w.assertNoCanary()
}
