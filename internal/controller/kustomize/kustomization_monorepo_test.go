package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestMonorepoPathAwareReconciliation covers issue 7's correctness cases on one repository:
// a push that changes one app leaves the others unrebuilt (their revision recorded, an event
// saying so), a change to a shared base reconciles every user, a change to a substitution
// ConfigMap reconciles its users, dependsOn ordering holds, and a deleted path fails as usual.
func TestMonorepoPathAwareReconciliation(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("repo")
	kus := func(resources ...string) string {
		return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + strings.Join(resources, "\n- ") + "\n"
	}
	files := map[string]string{
		"base/kustomization.yaml":  kus("shared.yaml"),
		"base/shared.yaml":         configMapYAML(ns, "shared-${app}", "base-1"),
		"app-1/kustomization.yaml": kus("../base", "cm.yaml"),
		"app-1/cm.yaml":            configMapYAML(ns, "app-1", "1"),
		"app-2/kustomization.yaml": kus("../base", "cm.yaml"),
		"app-2/cm.yaml":            configMapYAML(ns, "app-2", "1"),
		"app-3/cm.yaml":            configMapYAML(ns, "app-3", "${color}"),
	}
	repo.Commit("main", "apps", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	src := gitRepository(ns, "repo", srv.RepoURL("repo"))
	if err := env.Client.Create(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	vars := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vars"}, Data: map[string]string{"color": "blue"}}
	if err := env.Client.Create(t.Context(), vars); err != nil {
		t.Fatal(err)
	}
	withApp := func(app string) func(*kustomizev1.Kustomization) {
		return func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"app": app}}
		}
	}
	apps := []*kustomizev1.Kustomization{
		kustomization(ns, "app-1", "./app-1", withApp("1")),
		kustomization(ns, "app-2", "./app-2", withApp("2"), func(k *kustomizev1.Kustomization) {
			k.Spec.DependsOn = []meta.DependencyReference{{Name: "app-1"}}
		}),
		kustomization(ns, "app-3", "./app-3", func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "vars"}}}
		}),
	}
	for _, ks := range apps {
		if err := env.Client.Create(t.Context(), ks); err != nil {
			t.Fatal(err)
		}
	}
	for _, ks := range apps {
		waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
	}
	resourceVersion := func(name string) string {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
			t.Fatal(err)
		}
		return cm.ResourceVersion
	}
	push := func(msg string, change map[string]string) string {
		for k, v := range change {
			files[k] = v
		}
		head := repo.Commit("main", msg, files)
		env.RequestReconcile(t, src)
		return "main@sha1:" + head
	}
	atRevision := func(rev string) func(*kustomizev1.Kustomization) error {
		return func(k *kustomizev1.Kustomization) error {
			if k.Status.LastAppliedRevision != rev {
				return fmt.Errorf("%s lastAppliedRevision %s, want %s", k.Name, k.Status.LastAppliedRevision, rev)
			}
			return nil
		}
	}

	// One app changes: the others record the revision without a rebuild.
	app2Before := resourceVersion("app-2")
	rev := push("change app-1", map[string]string{"app-1/cm.yaml": configMapYAML(ns, "app-1", "2")})
	for _, ks := range apps {
		waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, atRevision(rev))
	}
	if v := configMapValue(t, ns, "app-1"); v != "2" {
		t.Errorf("app-1 = %q, want 2", v)
	}
	if resourceVersion("app-2") != app2Before {
		t.Errorf("app-2 was re-applied although its inputs did not change")
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		var events corev1.EventList
		if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "app-3" && strings.Contains(e.Message, "No changes in the inputs of ./app-3") &&
				strings.Contains(e.Message, rev) {
				return nil
			}
		}
		return fmt.Errorf("no event says app-3 recorded %s without a rebuild", rev)
	})

	// The shared base changes: both of its users reconcile.
	rev = push("change base", map[string]string{"base/shared.yaml": configMapYAML(ns, "shared-${app}", "base-2")})
	for _, ks := range apps {
		waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, atRevision(rev))
	}
	for _, name := range []string{"shared-1", "shared-2"} {
		if v := configMapValue(t, ns, name); v != "base-2" {
			t.Errorf("%s = %q, want base-2", name, v)
		}
	}

	// The substitution ConfigMap changes: its user reconciles without a push.
	vars.Data["color"] = "green"
	if err := env.Client.Update(t.Context(), vars); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if v := configMapValue(t, ns, "app-3"); v != "green" {
			return fmt.Errorf("app-3 = %q, want green", v)
		}
		return nil
	})

	// A deleted path fails as usual.
	rev = push("remove app-3", map[string]string{"app-3/cm.yaml": gitserver.Deleted})
	readyCondition(t, client.ObjectKeyFromObject(apps[2]), "ArtifactFailed", time.Minute)
	waitKustomization(t, client.ObjectKeyFromObject(apps[1]), metav1.ConditionTrue, time.Minute, atRevision(rev))
}
