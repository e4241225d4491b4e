package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

func kustomization(ns, name, path string, mutate ...func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: time.Hour},
			Path:      path,
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "repo"},
		},
	}
	for _, m := range mutate {
		m(ks)
	}
	return ks
}

func configMapYAML(ns, name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  value: %q\n", name, ns, value)
}

func readyCondition(t *testing.T, key client.ObjectKey, reason string, timeout time.Duration) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	waitKustomization(t, key, metav1.ConditionFalse, timeout, func(ks *kustomizev1.Kustomization) error {
		c = apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		if c.Reason != reason {
			return fmt.Errorf("reason %s (%s), want %s", c.Reason, c.Message, reason)
		}
		return nil
	})
	return c
}

// TestKustomizationBuildFailureKeepsLastApply checks that a revision that does not build
// reports BuildFailed naming the file, prunes nothing, and that a later good revision
// recovers by itself.
func TestKustomizationBuildFailureKeepsLastApply(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	good := map[string]string{"app/a.yaml": configMapYAML(ns, "a", "1"), "app/b.yaml": configMapYAML(ns, "b", "1")}
	repo.Commit("main", "good", good)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	src := gitRepository(ns, "repo", srv.RepoURL("repo"))
	if err := env.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "app", "./app")
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)

	// b.yaml broken and a.yaml gone: nothing is pruned, b keeps its last good value.
	repo.Commit("main", "broken", map[string]string{"app/a.yaml": gitserver.Deleted, "app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [this is not\n"})
	env.RequestReconcile(t, src)
	c := readyCondition(t, key, "BuildFailed", time.Minute)
	if !strings.Contains(c.Message, "b.yaml") {
		t.Errorf("message does not name the broken file: %s", c.Message)
	}
	for _, name := range []string{"a", "b"} {
		if v := configMapValue(t, ns, name); v != "1" {
			t.Errorf("ConfigMap %s = %q after a failed build, want the last good apply", name, v)
		}
	}

	// An unknown kind fails the apply and names the object.
	repo.Commit("main", "unknown kind", map[string]string{"app/b.yaml": "apiVersion: example.com/v1\nkind: NoSuchKind\nmetadata:\n  name: x\n  namespace: " + ns + "\n"})
	env.RequestReconcile(t, src)
	c = readyCondition(t, key, "ReconciliationFailed", time.Minute)
	if !strings.Contains(c.Message, "NoSuchKind") {
		t.Errorf("message does not name the unknown kind: %s", c.Message)
	}

	// A good revision recovers and prunes what left.
	repo.Commit("main", "fixed", map[string]string{"app/b.yaml": configMapYAML(ns, "b", "2")})
	env.RequestReconcile(t, src)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, func(*kustomizev1.Kustomization) error {
		if v := configMapValue(t, ns, "b"); v != "2" {
			return fmt.Errorf("b = %q", v)
		}
		if v := configMapValue(t, ns, "a"); v != "" {
			return fmt.Errorf("a not pruned: %q", v)
		}
		return nil
	})
}

func configMapValue(t *testing.T, ns, name string) string {
	t.Helper()
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		return ""
	}
	return cm.Data["value"]
}

// TestKustomizationReportsBadInput covers a missing substituteFrom object, a dependency
// cycle, a failing health check and a missing path.
func TestKustomizationReportsBadInput(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "tree", map[string]string{
		"vars/cm.yaml": strings.Replace(configMapYAML(ns, "vars", "x"), `"x"`, `"${missing_var:=d}"`, 1),
		"ok/cm.yaml":   configMapYAML(ns, "ok", "1"),
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ks        *kustomizev1.Kustomization
		reason    string
		inMessage string
	}{
		{kustomization(ns, "missing-vars", "./vars", func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "absent-vars"}}}
		}), "BuildFailed", "absent-vars"},
		{kustomization(ns, "cycle-a", "./ok", func(k *kustomizev1.Kustomization) {
			k.Spec.DependsOn = []meta.DependencyReference{{Name: "cycle-b"}}
		}), "DependencyNotReady", "cycle"},
		{kustomization(ns, "cycle-b", "./ok", func(k *kustomizev1.Kustomization) {
			k.Spec.DependsOn = []meta.DependencyReference{{Name: "cycle-a"}}
		}), "DependencyNotReady", "cycle"},
		{kustomization(ns, "unhealthy", "./ok", func(k *kustomizev1.Kustomization) {
			k.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Second}
			k.Spec.HealthChecks = []meta.NamespacedObjectKindReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "absent", Namespace: ns}}
		}), "HealthCheckFailed", "Deployment/" + ns + "/absent"},
		{kustomization(ns, "no-path", "./does/not/exist"), "ArtifactFailed", "does/not/exist"},
	}
	for _, tc := range cases {
		if err := env.Client.Create(t.Context(), tc.ks); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.ks.Name, func(t *testing.T) {
			c := readyCondition(t, client.ObjectKeyFromObject(tc.ks), tc.reason, time.Minute)
			if !strings.Contains(c.Message, tc.inMessage) {
				t.Errorf("message %q does not name %q", c.Message, tc.inMessage)
			}
		})
	}
}

// TestKustomizationCorrectsDriftAndTriggersDependents checks that an edited object is set
// back on the next reconcile with an event naming it, and that a dependent reconciles as soon
// as its dependency turns Ready.
func TestKustomizationCorrectsDriftAndTriggersDependents(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	repo.Commit("main", "tree", map[string]string{
		"base/cm.yaml": configMapYAML(ns, "base", "1"),
		"app/cm.yaml":  configMapYAML(ns, "app", "1"),
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	app := kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []meta.DependencyReference{{Name: "base"}}
		// With Flux's 30 s polling this would take at least 30 s; the test allows far less.
	})
	if err := env.Client.Create(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	readyCondition(t, client.ObjectKeyFromObject(app), "DependencyNotReady", 30*time.Second)
	base := kustomization(ns, "base", "./base")
	if err := env.Client.Create(t.Context(), base); err != nil {
		t.Fatal(err)
	}
	waitKustomization(t, client.ObjectKeyFromObject(app), metav1.ConditionTrue, 15*time.Second, nil)

	// Drift: someone edits the ConfigMap by hand.
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = "edited"
	if err := env.Client.Update(t.Context(), cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	env.RequestReconcile(t, app)
	testenv.Eventually(t, 30*time.Second, func() error {
		if v := configMapValue(t, ns, "app"); v != "1" {
			return fmt.Errorf("drift not corrected: %q", v)
		}
		var events corev1.EventList
		if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "app" && strings.Contains(e.Message, "ConfigMap/"+ns+"/app configured") {
				return nil
			}
		}
		return fmt.Errorf("no event names the drifted ConfigMap")
	})
}
