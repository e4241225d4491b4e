package kustomize_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/weirgitops/weir/internal/safeyaml"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// failedCondition waits until the Kustomization's Ready condition is False with reason, for
// its current generation (a failing Kustomization keeps status.observedGeneration of its last
// success, as Flux's does), and returns it.
func failedCondition(t *testing.T, key client.ObjectKey, reason string, timeout time.Duration) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	testenv.Eventually(t, timeout, func() error {
		var ks kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &ks); err != nil {
			return err
		}
		c = apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason || c.ObservedGeneration != ks.Generation {
			return fmt.Errorf("Kustomization %s: Ready = %+v, want False with reason %s", key, c, reason)
		}
		return nil
	})
	return c
}

// eventMessages returns the messages of the events about the Kustomization name in ns.
func eventMessages(t *testing.T, ns, name string) []string {
	t.Helper()
	var events corev1.EventList
	if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e.Message)
		}
	}
	return out
}

// TestKustomizationBuildStaysInsideArtifact points a repository's kustomizations at a file on
// the controller's own file system in several ways; each build fails naming the entry, and
// the object in that file never reaches the cluster.
func TestKustomizationBuildStaysInsideArtifact(t *testing.T) {
	ns := env.Namespace(t)
	outside, err := os.MkdirTemp("", "weir-outside-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(outside) })
	stolen := configMapYAML(ns, "stolen", "from the controller's disk")
	for _, f := range []string{"cm.yaml", "file.txt"} {
		if err := os.WriteFile(filepath.Join(outside, f), []byte(stolen), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	climb := strings.Repeat("../", 16) + strings.TrimPrefix(outside, "/")
	cases := []struct{ name, kustomization, entry string }{
		{"absolute", "resources: [" + outside + "/cm.yaml]\n", outside + "/cm.yaml"},
		{"climb", "resources: [" + climb + "/cm.yaml]\n", "cm.yaml"},
		{"generator-files", "configMapGenerator:\n- name: stolen\n  files: [" + outside + "/file.txt]\n", "file.txt"},
		{"file-protocol", "resources: [file://" + outside + "]\n", "file://"},
		{"symlink", "resources: [leak.yaml]\n", "leak.yaml"},
	}
	files := map[string]string{}
	for _, c := range cases {
		files[c.name+"/kustomization.yaml"] = c.kustomization
	}
	files["symlink/leak.yaml"] = gitserver.Symlink(filepath.Join(outside, "cm.yaml"))
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "hostile", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := env.Client.Create(t.Context(), kustomization(ns, c.name, "./"+c.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cond := failedCondition(t, client.ObjectKey{Namespace: ns, Name: c.name}, "BuildFailed", time.Minute)
			if !strings.Contains(cond.Message, c.entry) {
				t.Errorf("message %q does not name %q", cond.Message, c.entry)
			}
		})
	}
	if v := configMapValue(t, ns, "stolen"); v != "" {
		t.Fatalf("a file outside the artifact was applied: %q", v)
	}
}

// TestKustomizationHidesSecretValues applies Secrets the API server rejects with messages that
// quote their values, and a ConfigMap that a value substituted from a Secret breaks; no value
// reaches the status, the events or the controller's log.
func TestKustomizationHidesSecretValues(t *testing.T) {
	ns := env.Namespace(t)
	secret := func(name, body string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n%s", name, ns, body)
	}
	cases := []struct{ name, manifest, leak string }{
		{"number", secret("number", "data:\n  password: 31415926535\n"), "31415926535"},
		{"nested", secret("nested", "stringData:\n  password:\n    value: hunter2-nested\n"), "hunter2-nested"},
		{"base64", secret("base64", "data:\n  password: hunter2-base64!!\n"), "hunter2-base64"},
		{"substituted", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: %s\ndata:\n  token: ${token}\n", ns), "27182818284"},
	}
	files := map[string]string{}
	for _, c := range cases {
		files[c.name+"/manifest.yaml"] = c.manifest
	}
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "secrets", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	vars := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vars"}, StringData: map[string]string{"token": "27182818284"}}
	if err := env.Client.Create(t.Context(), vars); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		ks := kustomization(ns, c.name, "./"+c.name, func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "Secret", Name: "vars"}}}
		})
		if err := env.Client.Create(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := client.ObjectKey{Namespace: ns, Name: c.name}
			cond := failedCondition(t, key, "ReconciliationFailed", time.Minute)
			if strings.Contains(cond.Message, c.leak) {
				t.Errorf("Ready message leaks the value: %s", cond.Message)
			}
			var ks kustomizev1.Kustomization
			if err := env.Client.Get(t.Context(), key, &ks); err != nil {
				t.Fatal(err)
			}
			for _, cd := range ks.Status.Conditions {
				if strings.Contains(cd.Message, c.leak) {
					t.Errorf("condition %s leaks the value: %s", cd.Type, cd.Message)
				}
			}
			// The failure is reported as a Warning event; wait for it, then check them all.
			testenv.Eventually(t, 30*time.Second, func() error {
				msgs := eventMessages(t, ns, c.name)
				for _, m := range msgs {
					if strings.Contains(m, "apply") {
						return nil
					}
				}
				return fmt.Errorf("no failure event yet among %q", msgs)
			})
			for _, m := range eventMessages(t, ns, c.name) {
				if strings.Contains(m, c.leak) {
					t.Errorf("event leaks the value: %s", m)
				}
			}
			if strings.Contains(env.Logs(), c.leak) {
				t.Errorf("the controller log leaks the value %q", c.leak)
			}
		})
	}
}

// TestKustomizationFailuresBackOff fills a namespace with Kustomizations that cannot succeed
// (missing paths, a dependency cycle, missing paths with a one-second interval and a tiny
// retry interval) and checks that they are retried with growing delays: once all have failed,
// the controller reconciles them a few times a minute, not in a loop, and its API request
// rate stays low.
func TestKustomizationFailuresBackOff(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "tree", map[string]string{"ok/cm.yaml": configMapYAML(ns, "ok", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	const n = 60
	var keys []client.ObjectKey
	for i := range n {
		name := fmt.Sprintf("broken-%02d", i)
		var ks *kustomizev1.Kustomization
		switch i % 3 {
		case 0:
			ks = kustomization(ns, name, "./missing")
		case 1:
			ks = kustomization(ns, name, "./ok", func(k *kustomizev1.Kustomization) {
				k.Spec.DependsOn = []meta.DependencyReference{{Name: fmt.Sprintf("broken-%02d", (i+3)%n)}}
			})
		default:
			ks = kustomization(ns, name, "./missing", func(k *kustomizev1.Kustomization) {
				k.Spec.Interval = metav1.Duration{Duration: time.Second}
				k.Spec.RetryInterval = &metav1.Duration{Duration: 100 * time.Millisecond}
			})
		}
		if err := env.Client.Create(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, client.ObjectKeyFromObject(ks))
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		for _, key := range keys {
			var ks kustomizev1.Kustomization
			if err := env.Client.Get(t.Context(), key, &ks); err != nil {
				return err
			}
			if c := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready"); c == nil || c.Status != metav1.ConditionFalse {
				return fmt.Errorf("%s: Ready = %+v", key.Name, c)
			}
		}
		return nil
	})
	// Let the first retries pass, then count over a window.
	elapse(t, 20*time.Second)
	reconciles, requests := reconcileCount(t), env.APIRequests()
	const window = 20 * time.Second
	elapse(t, window)
	reconciles, requests = reconcileCount(t)-reconciles, env.APIRequests()-requests
	perSecond := float64(reconciles) / window.Seconds()
	t.Logf("%d failing Kustomizations: %d reconciles (%.1f/s) and %d API requests (%.1f/s) in %s",
		n, reconciles, perSecond, requests, float64(requests)/window.Seconds(), window)
	// Without backoff the one-second ones alone reconcile 20 times a second here.
	if limit := 3 * n; reconciles > int64(limit) {
		t.Errorf("%d reconciles in %s for %d failing objects, want at most %d", reconciles, window, n, limit)
	}
	if limit := 6 * n; requests > int64(limit) {
		t.Errorf("%d API requests in %s for %d failing objects, want at most %d", requests, window, n, limit)
	}
}

// elapse lets a measurement window pass; it waits for no condition.
func elapse(t *testing.T, d time.Duration) {
	select {
	case <-time.After(d):
	case <-t.Context().Done():
	}
}

// reconcileCount reads controller-runtime's count of Kustomization reconciles, every result.
func reconcileCount(t *testing.T) int64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "controller") == "kustomization" {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return int64(total)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// billionLaughs is safeyaml's alias bomb as the data of a ConfigMap in ns.
func billionLaughs(ns string) string {
	data := strings.ReplaceAll(strings.TrimSuffix(safeyaml.AliasBomb(), "\n"), "\n", "\n  ")
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  namespace: %s\ndata:\n  %s\n", ns, data)
}

// TestKustomizationRejectsYAMLBombs commits alias bombs in a resource, in a generated
// kustomization and in a kustomization file; each fails fast with BuildFailed naming the file,
// and an unrelated Kustomization of the same repository applies meanwhile.
func TestKustomizationRejectsYAMLBombs(t *testing.T) {
	ns := env.Namespace(t)
	bomb := billionLaughs(ns)
	files := map[string]string{
		"resource/kustomization.yaml":      "resources: [bomb.yaml]\n",
		"resource/bomb.yaml":               bomb,
		"generated/bomb.yaml":              bomb,
		"kustomization/kustomization.yaml": "resources: [cm.yaml]\nlol:\n" + strings.SplitN(bomb, "data:\n", 2)[1],
		"kustomization/cm.yaml":            configMapYAML(ns, "inner", "1"),
		"ok/cm.yaml":                       configMapYAML(ns, "ok", "1"),
	}
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "bombs", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, file string }{
		{"resource", "bomb.yaml"}, {"generated", "bomb.yaml"}, {"kustomization", "kustomization.yaml"},
	}
	for _, c := range cases {
		if err := env.Client.Create(t.Context(), kustomization(ns, c.name, "./"+c.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(t.Context(), kustomization(ns, "ok", "./ok")); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cond := failedCondition(t, client.ObjectKey{Namespace: ns, Name: c.name}, "BuildFailed", 30*time.Second)
			if !strings.Contains(cond.Message, c.name+"/"+c.file) || !strings.Contains(cond.Message, "yaml") {
				t.Errorf("message %q does not name %s/%s and the yaml limit", cond.Message, c.name, c.file)
			}
		})
	}
	waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "ok"}, metav1.ConditionTrue, 30*time.Second, nil)
	if v := configMapValue(t, ns, "bomb"); v != "" {
		t.Fatal("the bomb's ConfigMap was applied")
	}
}

// TestKustomizationRefusesKubeConfigWithoutSecret checks that a Kustomization meant for a
// remote cluster through spec.kubeConfig.configMapRef with a cloud provider's workload
// identity (not supported) is refused as stalled, and that nothing it declares lands in this
// cluster.
func TestKustomizationRefusesKubeConfigWithoutSecret(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "remote", map[string]string{"remote/cm.yaml": configMapYAML(ns, "remote-only", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	identity := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cluster-identity"},
		Data: map[string]string{"provider": "aws", "cluster": "arn:aws:eks:eu-west-1:000000000000:cluster/remote"}}
	if err := env.Client.Create(t.Context(), identity); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "remote", "./remote", func(k *kustomizev1.Kustomization) {
		k.Spec.KubeConfig = &meta.KubeConfigReference{ConfigMapRef: &meta.LocalObjectReference{Name: "cluster-identity"}}
	})
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ks)
	cond := failedCondition(t, key, "ReconciliationFailed", time.Minute)
	if !strings.Contains(cond.Message, "configMapRef 'cluster-identity'") {
		t.Errorf("message %q does not name the configMapRef", cond.Message)
	}
	var got kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), key, &got); err != nil {
		t.Fatal(err)
	}
	if !apimeta.IsStatusConditionTrue(got.Status.Conditions, "Stalled") {
		t.Errorf("Stalled is not True: %+v", got.Status.Conditions)
	}
	if v := configMapValue(t, ns, "remote-only"); v != "" {
		t.Fatal("a manifest meant for the remote cluster was applied to the management cluster")
	}
}
