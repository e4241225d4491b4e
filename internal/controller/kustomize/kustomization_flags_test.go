package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestApplyFlags runs Kustomizations under a manager with --override-manager,
// --custom-apply-stage-kinds and --concurrent-ssa, as kustomize-controller's flags.
func TestApplyFlags(t *testing.T) {
	label := withOptions(t, func(o *manager.Options) {
		o.OverrideManagers = []string{"my-tool"}
		o.CustomApplyStageKinds = []string{"/Service"}
		o.ConcurrentSSA = 2
	})
	ns := env.Namespace(t)
	svc := fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: %s\nspec:\n  ports:\n  - port: 80\n", ns)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "app", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1"), "app/svc.yaml": svc})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ks := kustomization(ns, "app", "./app")
	createAll(t, label(gitRepository(ns, "repo", srv.RepoURL("repo"))), label(ks))
	key := client.ObjectKeyFromObject(ks)
	waitKustomization(t, key, metav1.ConditionTrue, time.Minute, nil)

	// --custom-apply-stage-kinds: the Service is applied in a stage before the ConfigMap
	// (which otherwise comes first), as the change-set event lists them in apply order.
	testenv.Eventually(t, 30*time.Second, func() error {
		var events corev1.EventList
		if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "app" && strings.Contains(e.Message, "created") {
				s, c := strings.Index(e.Message, "Service/"+ns+"/web created"), strings.Index(e.Message, "ConfigMap/"+ns+"/app created")
				if s < 0 || c < 0 || s > c {
					return fmt.Errorf("change set %q: want the Service before the ConfigMap", e.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("no change-set event yet")
	})

	// --override-manager: a field my-tool added is taken over and removed on the next apply.
	var cm corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["added-by-my-tool"] = "x"
	if err := env.Client.Update(t.Context(), &cm, client.FieldOwner("my-tool")); err != nil {
		t.Fatal(err)
	}
	env.RequestReconcile(t, ks)
	testenv.Eventually(t, 30*time.Second, func() error {
		var got corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &got); err != nil {
			return err
		}
		if _, ok := got.Data["added-by-my-tool"]; ok {
			return fmt.Errorf("the override manager's field is still there: %v", got.Data)
		}
		return nil
	})
}

// TestKustomizationIgnoreRules: fields named by spec.ignore (Flux 2.9) keep the values someone
// else set, while the rest of the object is corrected on the next apply.
func TestKustomizationIgnoreRules(t *testing.T) {
	ns := env.Namespace(t)
	cm := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: %s\ndata:\n  value: \"1\"\n  replicas: \"2\"\n", ns)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "app", map[string]string{"app/cm.yaml": cm})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	ks := kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.Ignore = []kustomizev1.IgnoreRule{{Paths: []string{"/data/replicas"}, Target: &kustomize.Selector{Kind: "ConfigMap", Name: "app"}}}
	})
	createAll(t, gitRepository(ns, "repo", srv.RepoURL("repo")), ks)
	waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
	var live corev1.ConfigMap
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &live); err != nil {
		t.Fatal(err)
	}
	live.Data["replicas"], live.Data["value"] = "5", "edited"
	if err := env.Client.Update(t.Context(), &live, client.FieldOwner("autoscaler")); err != nil {
		t.Fatal(err)
	}
	env.RequestReconcile(t, ks)
	testenv.Eventually(t, 30*time.Second, func() error {
		var got corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &got); err != nil {
			return err
		}
		if got.Data["value"] != "1" {
			return fmt.Errorf("value %q: want the edit of a field not ignored reverted", got.Data["value"])
		}
		if got.Data["replicas"] != "5" {
			return fmt.Errorf("replicas %q: an ignored field was changed back", got.Data["replicas"])
		}
		return nil
	})
}

// TestWatchConfigsLabelSelector: with --watch-configs-label-selector, a change of a labelled
// ConfigMap that a Kustomization substitutes from reconciles it at once.
func TestWatchConfigsLabelSelector(t *testing.T) {
	label := withOptions(t, func(o *manager.Options) { o.WatchConfigsLabelSelector = "reconcile.fluxcd.io/watch=Enabled" })
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	root.NewRepo("repo").Commit("main", "app", map[string]string{"app/cm.yaml": strings.Replace(configMapYAML(ns, "app", "x"), `"x"`, `"${greeting}"`, 1)})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	vars := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vars", Labels: map[string]string{"reconcile.fluxcd.io/watch": "Enabled"}},
		Data: map[string]string{"greeting": "hello"}}
	ks := kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "vars"}}}
	})
	createAll(t, vars, label(gitRepository(ns, "repo", srv.RepoURL("repo"))), label(ks))
	waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
	vars.Data["greeting"] = "bonjour"
	if err := env.Client.Update(t.Context(), vars); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if v := configMapValue(t, ns, "app"); v != "bonjour" {
			return fmt.Errorf("value %q: the labelled ConfigMap's change did not reconcile", v)
		}
		return nil
	})
}
