package stack_test

import (
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
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/controller/stack"
	"github.com/weirgitops/weir/internal/install"
	"github.com/weirgitops/weir/internal/testenv"
)

// stackYAML is a stack named like the seed's, with spec lines appended to clusterName.
func stackYAML(spec string) []byte {
	return []byte("apiVersion: hops.ops.com.ai/v1alpha1\nkind: FluxGitopsStack\nmetadata:\n  name: flux-gitops\n  namespace: default\nspec:\n  clusterName: lifecycle\n" + spec)
}

// readyWithApps applies a stack, pushes ./apps to its new repository and waits until it is Ready.
func readyWithApps(t *testing.T, f *fixture, spec, repo string) *hopsv1.FluxGitopsStack {
	t.Helper()
	applyYAML(t, stackYAML(spec))
	waitStack(t, 2*time.Minute, condition(stack.SourceReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))
	f.gh.Repo("hops-ops", repo).Commit("main", "apps", map[string]string{"apps/app.yaml": configMap("lifecycle-app", "v1")})
	env.RequestReconcile(t, source())
	s := waitStack(t, 3*time.Minute, ready)
	waitConfigMap(t, "lifecycle-app", "v1")
	return s
}

// TestDeletionOrder deletes a stack whose Kustomization is held by a finalizer: nothing after the
// Kustomizations goes while it stays; once it goes, the GitRepository and its Secret, then the
// repository (allowDelete and the Delete policy) and the engine follow, and what the
// Kustomization applied is pruned.
func TestDeletionOrder(t *testing.T) {
	f := newFixture(t)
	readyWithApps(t, f, "  repository:\n    org: hops-ops\n    allowDelete: true\n", "lifecycle-gitops")

	const hold = "test.weir.dev/hold"
	ks := &kustomizev1.Kustomization{}
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "apps"}, ks); err != nil {
			return err
		}
		controllerutil.AddFinalizer(ks, hold)
		return env.Client.Update(t.Context(), ks)
	})
	s := &hopsv1.FluxGitopsStack{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-gitops"}}
	if err := env.Client.Delete(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	waitStack(t, time.Minute, func(s *hopsv1.FluxGitopsStack) error {
		c := apimeta.FindStatusCondition(s.Status.Conditions, "Ready")
		if c == nil || c.Reason != stack.ReasonDeletionInProgress || !strings.Contains(c.Message, "Kustomization flux-system/apps") {
			return fmt.Errorf("Ready = %+v, want deletion waiting for the Kustomization", c)
		}
		return nil
	})
	// While the Kustomization stays, everything after it stays.
	for _, obj := range []client.Object{source(), &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "weir"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: stack.AuthSecretName}}} {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil || !obj.GetDeletionTimestamp().IsZero() {
			t.Errorf("%T %s deleted before the Kustomizations: %v", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	if _, ok := f.gh.State("hops-ops", "lifecycle-gitops"); !ok {
		t.Error("repository deleted before the Kustomizations")
	}

	testenv.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "apps"}, ks); err != nil {
			return err
		}
		controllerutil.RemoveFinalizer(ks, hold)
		return env.Client.Update(t.Context(), ks)
	})
	deleteStack(t, "default", "flux-gitops")
	if _, ok := f.gh.State("hops-ops", "lifecycle-gitops"); ok {
		t.Error("repository kept though allowDelete and the Delete policy allow its deletion")
	}
	for _, obj := range []client.Object{source(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: stack.AuthSecretName}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "lifecycle-app"}}} {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s still there after the stack's deletion", obj, client.ObjectKeyFromObject(obj))
		}
	}
	calls := f.gh.Calls()
	if !slices.Contains(calls, "DELETE /repos/hops-ops/lifecycle-gitops") {
		t.Errorf("calls = %v, want the repository deleted", calls)
	}
}

// TestEngineKeptWhileFluxObjectsRemain deletes a stack while a Flux object the stack did not
// create exists: the engine stays installed (released from the stack), everything else goes.
func TestEngineKeptWhileFluxObjectsRemain(t *testing.T) {
	f := newFixture(t)
	readyWithApps(t, f, "  repository:\n    org: hops-ops\n", "lifecycle-gitops")
	other := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "someone-elses"},
		Spec: sourcev1.GitRepositorySpec{URL: f.gh.Git.RepoURL("hops-ops/lifecycle-gitops.git"), Interval: metav1.Duration{Duration: time.Hour}}}
	if err := env.Client.Create(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "weir"}}
	defer func() {
		_ = env.Client.Delete(t.Context(), other)
		_ = env.Client.Delete(t.Context(), hr)
		testenv.Eventually(t, 2*time.Minute, func() error {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); !apierrors.IsNotFound(err) {
				return fmt.Errorf("engine still there: %w", err)
			}
			return nil
		})
	}()
	s := &hopsv1.FluxGitopsStack{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-gitops"}}
	if err := env.Client.Delete(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(s), s); !apierrors.IsNotFound(err) {
			return fmt.Errorf("stack still there: %w", err)
		}
		return nil
	})
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); err != nil || !hr.DeletionTimestamp.IsZero() {
		t.Fatalf("engine HelmRelease deleted while a GitRepository still needs it: %v", err)
	}
	if _, ok := hr.Labels[stack.LabelStackName]; ok {
		t.Errorf("kept engine still labelled as the stack's: %v", hr.Labels)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(source()), source()); !apierrors.IsNotFound(err) {
		t.Errorf("the stack's GitRepository is still there: %v", err)
	}
}

// TestGitHubOutage takes GitHub down under a Ready stack: the repository condition says GitHub
// is unavailable, nothing the stack made is deleted and the sync goes on; when GitHub is back
// the stack turns Ready again by itself.
func TestGitHubOutage(t *testing.T) {
	f := newFixture(t)
	readyWithApps(t, f, "  repository:\n    org: hops-ops\n", "lifecycle-gitops")
	defer deleteStack(t, "default", "flux-gitops")

	f.gh.SetDown(true)
	env.RequestReconcile(t, &hopsv1.FluxGitopsStack{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-gitops"}})
	waitStack(t, time.Minute, func(s *hopsv1.FluxGitopsStack) error {
		if err := condition(stack.RepositoryReadyCondition, metav1.ConditionFalse, stack.ReasonGitHubUnavailable)(s); err != nil {
			return err
		}
		return condition("Ready", metav1.ConditionFalse, stack.ReasonGitHubUnavailable)(s)
	})
	// The Git server is still up: a push during the outage is applied.
	f.gh.Repo("hops-ops", "lifecycle-gitops").Commit("main", "during the outage", map[string]string{"apps/app.yaml": configMap("lifecycle-app", "v2")})
	env.RequestReconcile(t, source())
	waitConfigMap(t, "lifecycle-app", "v2")
	for _, obj := range []client.Object{source(), &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "apps"}},
		&helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "weir"}}} {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil || !obj.GetDeletionTimestamp().IsZero() {
			t.Errorf("%T %s gone during the outage: %v", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	f.gh.SetDown(false)
	waitStack(t, 2*time.Minute, ready)
}

// TestEngineAdoptsWeirInstall runs seed 000's first stage on a cluster where `weir install`
// already installed weir: the HelmRelease takes the install's objects over (one Deployment, now
// Helm's), and deleting the stack leaves the engine installed.
func TestEngineAdoptsWeirInstall(t *testing.T) {
	newFixture(t)
	objs, err := install.Objects(install.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var workload []*unstructured.Unstructured
	for _, o := range objs {
		if k := o.GetKind(); k != "CustomResourceDefinition" && k != "Namespace" {
			workload = append(workload, o)
		}
	}
	if err := install.Apply(t.Context(), env.Client, workload); err != nil {
		t.Fatal(err)
	}
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "weir"}}
	defer func() {
		_ = env.Client.Delete(t.Context(), hr)
		testenv.Eventually(t, 2*time.Minute, func() error {
			if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); !apierrors.IsNotFound(err) {
				return fmt.Errorf("engine still there: %w", err)
			}
			return nil
		})
	}()
	applyStack(t, "seed000/stage1.yaml")
	waitStack(t, 3*time.Minute, condition(stack.EngineReadyCondition, metav1.ConditionTrue, stack.ReasonEngineInstalled))
	var deps appsv1.DeploymentList
	if err := env.Client.List(t.Context(), &deps, client.InNamespace(fluxNS)); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 || deps.Items[0].Annotations["meta.helm.sh/release-name"] != "weir" {
		t.Fatalf("Deployments in %s: %d, want weir's one, taken over by Helm", fluxNS, len(deps.Items))
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); err != nil {
		t.Fatal(err)
	}
	if hr.Annotations[stack.AnnotationAdopted] != "true" {
		t.Errorf("engine HelmRelease annotations = %v, want it marked adopted", hr.Annotations)
	}
	s := &hopsv1.FluxGitopsStack{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "flux-gitops"}}
	if err := env.Client.Delete(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(s), s); !apierrors.IsNotFound(err) {
			return fmt.Errorf("stack still there: %w", err)
		}
		return nil
	})
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); err != nil || !hr.DeletionTimestamp.IsZero() {
		t.Fatalf("adopted engine deleted with the stack: %v", err)
	}
}

// TestGitHubAppCredentials gives the stack a GitHub App instead of a token: the API calls use
// installation tokens (the API root from githubAppBaseURL), and the GitRepository fetches with
// the App too (provider github), without External Secrets.
func TestGitHubAppCredentials(t *testing.T) {
	f := newFixture(t)
	f.credentials(map[string]string{
		"githubAppID":         fmt.Sprint(appID),
		"githubAppPrivateKey": string(f.gh.App.PrivateKeyPEM),
		"githubAppBaseURL":    strings.TrimSuffix(f.gh.APIURL(), "/"),
	})
	applyYAML(t, stackYAML("  flux:\n    enabled: false\n  repository:\n    org: hops-ops\n"))
	defer deleteStack(t, "default", "flux-gitops")
	waitStack(t, 2*time.Minute, condition(stack.SourceReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))
	if _, ok := f.gh.State("hops-ops", "lifecycle-gitops"); !ok {
		t.Fatal("repository not created with the App's credentials")
	}
	var gr sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(source()), &gr); err != nil {
		t.Fatal(err)
	}
	if gr.Spec.Provider != "github" {
		t.Errorf("GitRepository provider = %q, want github", gr.Spec.Provider)
	}
	var sec corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: stack.AuthSecretName}, &sec); err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["githubAppInstallationOwner"]) != "hops-ops" || len(sec.Data["githubAppInstallationID"]) != 0 {
		t.Errorf("gitops-auth keys: owner %q, id %q; want the owner from repository.org", sec.Data["githubAppInstallationOwner"], sec.Data["githubAppInstallationID"])
	}
	if f.gh.App.Minted(installation) < 2 {
		t.Errorf("%d installation tokens minted, want the stack's and the GitRepository's", f.gh.App.Minted(installation))
	}
	noSecretLeaks(t, string(f.gh.App.PrivateKeyPEM[40:80]))
}

// TestEngineUpgradeRolls changes flux.values on a Ready stack: the HelmRelease upgrades weir's
// chart in place, and its Deployment rolls with a new Pod before the old one goes.
func TestEngineUpgradeRolls(t *testing.T) {
	newFixture(t)
	applyStack(t, "seed000/stage1.yaml")
	defer deleteStack(t, "default", "flux-gitops")
	waitStack(t, 3*time.Minute, condition(stack.EngineReadyCondition, metav1.ConditionTrue, stack.ReasonEngineInstalled))
	var dep appsv1.Deployment
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "weir"}, &dep); err != nil {
		t.Fatal(err)
	}
	generation := dep.Generation
	s := &hopsv1.FluxGitopsStack{}
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "flux-gitops"}, s); err != nil {
			return err
		}
		s.Spec.Flux.Values = &apiextensionsv1.JSON{Raw: []byte(`{"logLevel":"debug","container":{"additionalArgs":["--concurrent=20"]}}`)}
		return env.Client.Update(t.Context(), s)
	})
	testenv.Eventually(t, 2*time.Minute, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "weir"}, &dep); err != nil {
			return err
		}
		args := dep.Spec.Template.Spec.Containers[0].Args
		if dep.Generation == generation || !slices.Contains(args, "--log-level=debug") || !slices.Contains(args, "--concurrent=20") {
			return fmt.Errorf("Deployment generation %d, args %v", dep.Generation, args)
		}
		return nil
	})
	ru := dep.Spec.Strategy.RollingUpdate
	if dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge.IntValue() != 1 {
		t.Errorf("strategy = %+v, want a rolling update that never leaves the cluster without a controller", dep.Spec.Strategy)
	}
	waitStack(t, 2*time.Minute, condition(stack.EngineReadyCondition, metav1.ConditionTrue, stack.ReasonEngineInstalled))
	var hr helmv2.HelmRelease
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "weir"}, &hr); err != nil {
		t.Fatal(err)
	}
	if len(hr.Status.History) < 2 {
		t.Errorf("release history has %d entries, want the install and the upgrade", len(hr.Status.History))
	}
}

// TestSwitchToExternalSecrets enables External Secrets on a stack whose GitRepository used the
// Secret derived from its token: that Secret goes, so that External Secrets can create its own,
// and the GitRepository fetches with the App.
func TestSwitchToExternalSecrets(t *testing.T) {
	f := newFixture(t)
	installCRD(t, "externalsecrets.yaml")
	applyYAML(t, stackYAML("  flux:\n    enabled: false\n  repository:\n    org: hops-ops\n"))
	defer deleteStack(t, "default", "flux-gitops")
	s := waitStack(t, time.Minute, condition(stack.SourceReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded))
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		s.Spec.ExternalSecrets = hopsv1.ExternalSecretsSpec{Enabled: true, SecretStoreName: "store",
			GithubApp: hopsv1.GithubAppSpec{SecretPath: "github/app", AppIDKey: "id", PrivateKeyKey: "key"}}
		return env.Client.Update(t.Context(), s)
	})
	waitStack(t, time.Minute, condition(stack.ExternalSecretReadyCondition, metav1.ConditionFalse, stack.ReasonExternalSecretNotSynced))
	testenv.Eventually(t, 30*time.Second, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: stack.AuthSecretName}, &corev1.Secret{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("the token's Secret is still there: %w", err)
		}
		return nil
	})
	actAsExternalSecrets(t, map[string]string{"id": fmt.Sprint(appID), "key": string(f.gh.App.PrivateKeyPEM)})
	env.RequestReconcile(t, source())
	waitStack(t, time.Minute, func(s *hopsv1.FluxGitopsStack) error {
		if err := condition(stack.ExternalSecretReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded)(s); err != nil {
			return err
		}
		return condition(stack.SourceReadyCondition, metav1.ConditionTrue, stack.ReasonSucceeded)(s)
	})
	if f.gh.App.Minted(installation) == 0 {
		t.Error("the GitRepository fetched without the App")
	}
}
