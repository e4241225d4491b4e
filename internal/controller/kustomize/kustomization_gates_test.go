package kustomize_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// nonLabel matches what a label value cannot hold.
var nonLabel = regexp.MustCompile(`[^a-z0-9.-]+`)

// withGates starts a manager for this test with the given --feature-gates, reconciling only
// the objects labelled with the test's name; label marks an object so.
func withGates(t *testing.T, gates string) (label func(client.Object) client.Object) {
	t.Helper()
	return withOptions(t, func(o *manager.Options) { o.FeatureGates = gates })
}

// withOptions starts a manager for this test with options set by configure, reconciling only
// the objects labelled with the test's name; label marks an object so.
func withOptions(t *testing.T, configure func(*manager.Options)) (label func(client.Object) client.Object) {
	t.Helper()
	value := strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(value) > 63 {
		value = strings.Trim(value[:63], "-")
	}
	env.StartManager(t, func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "kustomization"}
		configure(o)
		o.WatchLabelSelector = gatesLabel + "=" + value
	})
	return func(obj client.Object) client.Object {
		obj.SetLabels(map[string]string{gatesLabel: value})
		return obj
	}
}

// TestFeatureGates runs Kustomizations under managers with Flux's feature gates set otherwise
// than weir's defaults, and checks that each gate switches its behaviour.
func TestFeatureGates(t *testing.T) {
	t.Run("StrictPostBuildSubstitutions=false", func(t *testing.T) {
		label := withGates(t, "StrictPostBuildSubstitutions=false")
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		root.NewRepo("repo").Commit("main", "vars", map[string]string{
			"app/cm.yaml": strings.Replace(configMapYAML(ns, "app", "x"), `"x"`, `"v${undefined_var}"`, 1)})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		createAll(t, label(gitRepository(ns, "repo", srv.RepoURL("repo"))), label(kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"defined": "1"}}
		})))
		waitKustomization(t, client.ObjectKey{Namespace: ns, Name: "app"}, metav1.ConditionTrue, time.Minute, func(*kustomizev1.Kustomization) error {
			if v := configMapValue(t, ns, "app"); v != "v" {
				return fmt.Errorf("value %q, want the undefined variable expanded to nothing", v)
			}
			return nil
		})
	})

	t.Run("AdditiveCELDependencyCheck=true", func(t *testing.T) {
		label := withGates(t, "AdditiveCELDependencyCheck=true")
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		root.NewRepo("repo").Commit("main", "tree", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1")})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		// The dependency never turns Ready (its path is missing); readyExpr says true anyway.
		createAll(t, label(gitRepository(ns, "repo", srv.RepoURL("repo"))),
			label(kustomization(ns, "dep", "./missing")),
			label(kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
				k.Spec.DependsOn = []meta.DependencyReference{{Name: "dep", ReadyExpr: "true"}}
			})))
		c := failedCondition(t, client.ObjectKey{Namespace: ns, Name: "app"}, "DependencyNotReady", time.Minute)
		if !strings.Contains(c.Message, "'"+ns+"/dep' is not ready") {
			t.Errorf("message %q, want the built-in check to hold the dependent back", c.Message)
		}
	})

	t.Run("CancelHealthCheckOnNewRevision=false", func(t *testing.T) {
		label := withGates(t, "CancelHealthCheckOnNewRevision=false")
		ns := env.Namespace(t)
		root := gitserver.NewRoot(t)
		repo := root.NewRepo("repo")
		repo.Commit("main", "one replica", map[string]string{"app/deploy.yaml": deploymentYAML(ns, "app", 1)})
		srv := root.ServeHTTP(gitserver.HTTPOptions{})
		src := label(gitRepository(ns, "repo", srv.RepoURL("repo")))
		ks := label(kustomization(ns, "app", "./app", func(k *kustomizev1.Kustomization) {
			k.Spec.Wait = true
			k.Spec.Timeout = &metav1.Duration{Duration: 30 * time.Second} // Flux's shortest
		}))
		createAll(t, src, ks)
		key := client.ObjectKeyFromObject(ks)
		waitProgress(t, key, "Running health checks")
		second := repo.Commit("main", "zero replicas", map[string]string{"app/deploy.yaml": deploymentYAML(ns, "app", 0)})
		env.RequestReconcile(t, src.(*sourcev1.GitRepository))
		// The first revision's wait runs to its timeout, then the second is applied.
		waitKustomization(t, key, metav1.ConditionTrue, 2*time.Minute, func(got *kustomizev1.Kustomization) error {
			if got.Status.LastAppliedRevision != "main@sha1:"+second {
				return fmt.Errorf("lastAppliedRevision %q", got.Status.LastAppliedRevision)
			}
			return nil
		})
		found := false
		for _, m := range eventMessages(t, ns, "app") {
			if strings.Contains(m, "timeout waiting for") {
				found = true
			}
		}
		if !found {
			t.Errorf("no health check timeout among the events %q: the new revision canceled the wait", eventMessages(t, ns, "app"))
		}
	})
}

func createAll(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// waitProgress waits until the Kustomization reports Reconciling=True with a message starting
// with prefix.
func waitProgress(t *testing.T, key client.ObjectKey, prefix string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, func() error {
		var ks kustomizev1.Kustomization
		if err := env.Client.Get(t.Context(), key, &ks); err != nil {
			return err
		}
		for _, c := range ks.Status.Conditions {
			if c.Type == "Reconciling" && c.Status == metav1.ConditionTrue && strings.HasPrefix(c.Message, prefix) {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v, want Reconciling %q", ks.Status.Conditions, prefix)
	})
}
