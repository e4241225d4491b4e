package stack_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/controller/stack"
	"github.com/weirgitops/weir/internal/testenv"
)

// configMap is a manifest for a repository path: one ConfigMap in default.
func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  value: %q\n", name, value)
}

// waitConfigMap waits until default/name has value.
func waitConfigMap(t *testing.T, name, value string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: name}, &cm); err != nil {
			return err
		}
		if cm.Data["value"] != value {
			return fmt.Errorf("value = %q, want %q", cm.Data["value"], value)
		}
		return nil
	})
}

// source returns the stack's GitRepository, for reconcile requests.
func source() *sourcev1.GitRepository {
	return &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: stack.SourceName}}
}

// noSecretLeaks fails when a credential shows in the stack's status, its events or weir's log.
func noSecretLeaks(t *testing.T, secrets ...string) {
	t.Helper()
	var s hopsv1.FluxGitopsStack
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "flux-gitops"}, &s); err != nil {
		t.Fatal(err)
	}
	status, err := json.Marshal(s.Status)
	if err != nil {
		t.Fatal(err)
	}
	var events corev1.EventList
	if err := env.Client.List(t.Context(), &events, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	var msgs strings.Builder
	for _, e := range events.Items {
		msgs.WriteString(e.Message + "\n")
	}
	for _, sec := range secrets {
		for what, text := range map[string]string{"status": string(status), "events": msgs.String(), "log": env.Logs()} {
			if strings.Contains(text, sec) {
				t.Errorf("a credential shows in the stack's %s", what)
			}
		}
	}
}

// TestSeedStage1GettingStarted applies seed 000's first stage as it is: a private repository
// <clusterName>-gitops with a README, the engine in flux-system, the GitRepository gitops and,
// once it is Ready, the apps Kustomization, which applies what is pushed to ./apps.
func TestSeedStage1GettingStarted(t *testing.T) {
	f := newFixture(t)
	applyStack(t, "seed000/stage1.yaml")
	defer deleteStack(t, "default", "flux-gitops")

	waitStack(t, time.Minute, condition(stack.RepositoryReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))
	st, ok := f.gh.State("hops-ops", "my-cluster-gitops")
	if !ok || !st.Private {
		t.Fatalf("repository hops-ops/my-cluster-gitops: exists %v, %+v; want a private repository", ok, st)
	}
	if !slices.Contains(f.gh.Calls(), "POST /orgs/hops-ops/repos") {
		t.Errorf("calls = %v, want the repository created in hops-ops", f.gh.Calls())
	}
	waitStack(t, 3*time.Minute, condition(stack.EngineReadyCondition, metav1.ConditionTrue, stack.ReasonEngineInstalled))
	var hr helmv2.HelmRelease
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "weir"}, &hr); err != nil {
		t.Fatal(err)
	}
	if hr.Spec.ChartRef == nil || hr.Spec.ChartRef.Kind != "ExternalArtifact" {
		t.Errorf("engine chartRef = %+v, want weir's ExternalArtifact", hr.Spec.ChartRef)
	}
	waitStack(t, 2*time.Minute, condition(stack.SourceReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))

	// The repository has only its README: the apps Kustomization waits for ./apps.
	rev := f.gh.Repo("hops-ops", "my-cluster-gitops").Commit("main", "apps", map[string]string{
		"apps/app.yaml": configMap("stage1-app", "one"),
	})
	env.RequestReconcile(t, source())
	s := waitStack(t, 2*time.Minute, func(s *hopsv1.FluxGitopsStack) error {
		if err := ready(s); err != nil {
			return err
		}
		if want := "main@sha1:" + rev; s.Status.Source.Revision != want {
			return fmt.Errorf("source revision %s, want %s", s.Status.Source.Revision, want)
		}
		return nil
	})
	waitConfigMap(t, "stage1-app", "one")

	if want := f.gh.URL + "/hops-ops/my-cluster-gitops"; s.Status.Repository.URL != want {
		t.Errorf("status.repository.url = %q, want %q", s.Status.Repository.URL, want)
	}
	if !s.Status.Source.Ready {
		t.Error("status.source.ready is false")
	}
	apps := s.Status.Kustomizations["apps"]
	if !apps.Ready || apps.LastAppliedRevision != s.Status.Source.Revision {
		t.Errorf("status.kustomizations.apps = %+v, want ready at %s", apps, s.Status.Source.Revision)
	}
	if _, ok := s.Status.Kustomizations["crossplane"]; ok {
		t.Error("crossplane Kustomization reported though not enabled")
	}
	var ks kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "apps"}, &ks); err != nil {
		t.Fatal(err)
	}
	if ks.Spec.Path != "./apps" || ks.Spec.SourceRef.Name != "gitops" || !ks.Spec.Prune {
		t.Errorf("apps Kustomization spec = %+v", ks.Spec)
	}
	noSecretLeaks(t, token)
}

// TestSeedStage2Growing applies seed 000's second stage as it is: the repository is generated
// from a Flux template repository (whose ./apps the cluster applies at once), gets its topics,
// the stack's labels go on every object, and flux.values reach weir's chart: the flux2 key
// prometheus.podMonitor.create makes a PodMonitor.
func TestSeedStage2Growing(t *testing.T) {
	f := newFixture(t)
	installCRD(t, "podmonitors.yaml")
	f.gh.AddRepo("hops-ops", "flux-gitops-template", false, true, map[string]string{
		"apps/app.yaml": configMap("stage2-app", "from the template"),
		"README.md":     "# template\n",
	})
	applyStack(t, "seed000/stage2.yaml")
	defer deleteStack(t, "default", "flux-gitops")

	s := waitStack(t, 3*time.Minute, ready)
	waitConfigMap(t, "stage2-app", "from the template")
	if !slices.Contains(f.gh.Calls(), "POST /repos/hops-ops/flux-gitops-template/generate") {
		t.Errorf("calls = %v, want the repository generated from the template", f.gh.Calls())
	}
	st, ok := f.gh.State("hops-ops", "production-gitops")
	if !ok || !st.Private || !slices.Equal(st.Topics, []string{"gitops", "flux", "production"}) {
		t.Errorf("repository hops-ops/production-gitops: exists %v, %+v", ok, st)
	}
	if s.Status.Kustomizations["apps"].LastAppliedRevision != s.Status.Source.Revision {
		t.Errorf("apps applied %q, source at %q", s.Status.Kustomizations["apps"].LastAppliedRevision, s.Status.Source.Revision)
	}
	for _, obj := range []client.Object{source(), &kustomizev1.Kustomization{}, &helmv2.HelmRelease{}} {
		key := client.ObjectKeyFromObject(obj)
		switch obj.(type) {
		case *kustomizev1.Kustomization:
			key = client.ObjectKey{Namespace: fluxNS, Name: "apps"}
		case *helmv2.HelmRelease:
			key = client.ObjectKey{Namespace: fluxNS, Name: "weir"}
		}
		if err := env.Client.Get(t.Context(), key, obj); err != nil {
			t.Fatal(err)
		}
		if l := obj.GetLabels(); l["team"] != "platform" || l["environment"] != "production" {
			t.Errorf("%T %s labels = %v, want the stack's labels", obj, key, l)
		}
	}
	pm := &unstructured.Unstructured{}
	pm.SetAPIVersion("monitoring.coreos.com/v1")
	pm.SetKind("PodMonitor")
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "weir"}, pm); err != nil {
		t.Errorf("flux.values prometheus.podMonitor.create made no PodMonitor: %v", err)
	}
}

// TestSeedStage3EnterpriseScale applies seed 000's third stage as it is. Without the External
// Secrets CRDs a condition says so; with them, the ExternalSecret renders Flux's GitHub App
// Secret shape (installation owner from repository.org), and the GitRepository fetches with the
// App's installation tokens; the crossplane Kustomization syncs ./crossplane; the Karpenter
// NodePool is created and weir's Deployment tolerates and selects its nodes.
func TestSeedStage3EnterpriseScale(t *testing.T) {
	f := newFixture(t)
	installCRD(t, "nodepools.yaml")
	uninstallCRD(t, "externalsecrets.external-secrets.io")
	applyStack(t, "seed000/stage3.yaml")
	defer deleteStack(t, "default", "flux-gitops")

	waitStack(t, time.Minute, condition(stack.ExternalSecretReadyCondition, metav1.ConditionFalse, stack.ReasonExternalSecretsNotInstalled))
	installCRD(t, "externalsecrets.yaml")
	env.RequestReconcile(t, &hopsv1.FluxGitopsStack{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-gitops"}})
	waitStack(t, time.Minute, condition(stack.ExternalSecretReadyCondition, metav1.ConditionFalse, stack.ReasonExternalSecretNotSynced))

	es := actAsExternalSecrets(t, map[string]string{"GH_APP_ID": fmt.Sprint(appID), "GH_APP_KEY": string(f.gh.App.PrivateKeyPEM)})
	store, _, _ := unstructured.NestedStringMap(es.Object, "spec", "secretStoreRef")
	if store["name"] != "hops-aws-secrets-manager" || store["kind"] != "ClusterSecretStore" {
		t.Errorf("secretStoreRef = %v", store)
	}
	tmpl, _, _ := unstructured.NestedStringMap(es.Object, "spec", "target", "template", "data")
	if tmpl["githubAppInstallationOwner"] != "hops-ops" || tmpl["githubAppInstallationID"] != "" || tmpl["githubAppID"] == "" || tmpl["githubAppPrivateKey"] == "" {
		t.Errorf("ExternalSecret template = %v, want Flux's GitHub App shape with the owner from repository.org", tmpl)
	}

	rev := f.gh.Repo("hops-ops", "production-gitops").Commit("main", "paths", map[string]string{
		"apps/app.yaml":        configMap("stage3-app", "apps"),
		"crossplane/xr.yaml":   configMap("stage3-crossplane", "crossplane"),
		"unrelated/other.yaml": configMap("stage3-other", "never"),
	})
	env.RequestReconcile(t, source())
	s := waitStack(t, 3*time.Minute, func(s *hopsv1.FluxGitopsStack) error {
		if err := ready(s); err != nil {
			return err
		}
		for _, k := range []string{"apps", "crossplane"} {
			if got := s.Status.Kustomizations[k]; !got.Ready || got.LastAppliedRevision != "main@sha1:"+rev {
				return fmt.Errorf("kustomizations.%s = %+v", k, got)
			}
		}
		return nil
	})
	waitConfigMap(t, "stage3-crossplane", "crossplane")
	if f.gh.App.Minted(installation) == 0 {
		t.Error("the GitRepository fetched without an installation token")
	}
	if c := condition(stack.NodePoolReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded)(s); c != nil {
		t.Error(c)
	}
	np := &unstructured.Unstructured{}
	np.SetAPIVersion("karpenter.sh/v1")
	np.SetKind("NodePool")
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "gitops"}, np); err != nil {
		t.Fatal(err)
	}
	taints, _, _ := unstructured.NestedSlice(np.Object, "spec", "template", "spec", "taints")
	if len(taints) != 1 {
		t.Errorf("NodePool taints = %v", taints)
	}
	var dep appsv1.Deployment
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "weir"}, &dep); err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	if pod.NodeSelector["karpenter.sh/nodepool"] != "gitops" || len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "hops.ops.com.ai/gitops" {
		t.Errorf("weir's Pod: nodeSelector %v, tolerations %v; want the NodePool's", pod.NodeSelector, pod.Tolerations)
	}
	noSecretLeaks(t, token, string(f.gh.App.PrivateKeyPEM[40:80]))

	// Turning the crossplane sync and the NodePool off deletes them.
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		off := false
		s.Spec.Kustomizations.Crossplane.Enabled = &off
		s.Spec.NodePool.Enabled = false
		return env.Client.Update(t.Context(), s)
	})
	waitStack(t, time.Minute, func(s *hopsv1.FluxGitopsStack) error {
		if err := ready(s); err != nil {
			return err
		}
		if _, ok := s.Status.Kustomizations["crossplane"]; ok {
			return fmt.Errorf("kustomizations = %v, want apps only", s.Status.Kustomizations)
		}
		return nil
	})
	testenv.Eventually(t, time.Minute, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "crossplane"}, &kustomizev1.Kustomization{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("crossplane Kustomization still there: %w", err)
		}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "gitops"}, np); !apierrors.IsNotFound(err) {
			return fmt.Errorf("NodePool still there: %w", err)
		}
		return nil
	})
}

// TestSeedStage4ImportExisting applies seed 000's fourth stage as it is: the existing repository
// is imported, never created, updated against GitHub's own visibility (LateInitialize) nor
// deleted with the stack; the apps Kustomization follows the custom path.
func TestSeedStage4ImportExisting(t *testing.T) {
	f := newFixture(t)
	f.gh.AddRepo("hops-ops", "existing-gitops", false, false, map[string]string{
		"clusters/production/apps/app.yaml": configMap("stage4-app", "imported"),
	})
	applyStack(t, "seed000/stage4.yaml")
	stackDeleted := false
	defer func() {
		if !stackDeleted {
			deleteStack(t, "default", "flux-gitops")
		}
	}()

	s := waitStack(t, 3*time.Minute, ready)
	waitConfigMap(t, "stage4-app", "imported")
	if s.Status.Kustomizations["apps"].LastAppliedRevision != s.Status.Source.Revision {
		t.Errorf("apps = %+v, source %s", s.Status.Kustomizations["apps"], s.Status.Source.Revision)
	}
	var ks kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "apps"}, &ks); err != nil {
		t.Fatal(err)
	}
	if ks.Spec.Path != "./clusters/production/apps" {
		t.Errorf("apps path = %q", ks.Spec.Path)
	}
	deleteStack(t, "default", "flux-gitops")
	stackDeleted = true
	if calls := f.gh.Calls(); len(calls) != 0 {
		t.Errorf("the import changed GitHub: %v", calls)
	}
	if st, ok := f.gh.State("hops-ops", "existing-gitops"); !ok || st.Private {
		t.Errorf("repository after the stack's deletion: exists %v, %+v; want it kept, public as it was", ok, st)
	}
}
