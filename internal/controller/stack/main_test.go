package stack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/githubapi"
	"github.com/weirgitops/weir/internal/testenv/githubapp"
)

var env *testenv.Env

const (
	fluxNS = "flux-system"
	// token is the personal access token of the stand-in's user "weir-bot".
	token = "ghp_weirtest0123456789"
	// appID and installation are the stand-in's GitHub App and its installation on hops-ops.
	appID        = 7
	installation = 42
)

// TestMain runs the tests on one control plane with weir's GitRepository, Kustomization,
// HelmRelease and FluxGitopsStack controllers in-process. There is no kube-controller-manager:
// nothing here needs namespaces deleted or garbage collected, and the test stands in for the
// Deployment controller and kubelet itself (see rollout).
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{}, &env, func(ctx context.Context, e *testenv.Env) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fluxNS}}
		if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil
	}, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "kustomization", "helmrelease", "fluxgitopsstack"}
		o.RequeueDependency = 2 * time.Second
		o.MinInterval = time.Second
	})))
}

// fixture is one test's GitHub stand-in with the stack's credentials Secret.
type fixture struct {
	t  *testing.T
	gh *githubapi.Server
}

// newFixture starts a GitHub stand-in with the organisation hops-ops, a user weir-bot (token)
// and an App installed on hops-ops, writes default/github-credentials for the seed's stacks
// (the token and the stand-in's API URL), and stands in for the Deployment controller.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	gh := githubapi.Start(t, githubapi.Options{
		Tokens:        map[string]string{token: "weir-bot"},
		Organizations: []string{"hops-ops"},
		App:           githubapp.Options{AppID: appID, Organizations: map[string]int64{"hops-ops": installation}},
	})
	f := &fixture{t: t, gh: gh}
	t.Cleanup(func() {
		if t.Failed() {
			logs := strings.Split(env.Logs(), "\n")
			t.Logf("weir's log, last lines:\n%s", strings.Join(logs[max(0, len(logs)-80):], "\n"))
		}
	})
	f.credentials(map[string]string{"token": token, "apiURL": gh.APIURL()})
	rollout(t)
	return f
}

// credentials replaces default/github-credentials.
func (f *fixture) credentials(data map[string]string) {
	f.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "github-credentials"}, StringData: data}
	_ = env.Client.Delete(f.t.Context(), s)
	testenv.Eventually(f.t, 30*time.Second, func() error { return env.Client.Create(f.t.Context(), s.DeepCopy()) })
	f.t.Cleanup(func() { _ = env.Client.Delete(context.Background(), s) })
}

// applyStack creates the stack of a YAML file in testdata, as it is.
func applyStack(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return applyYAML(t, data)
}

// applyYAML creates the object of a YAML document. The test deletes it with a deferred
// deleteStack: cleanups run after the test's context ends, too late to wait on anything.
func applyYAML(t *testing.T, data []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// deleteStack deletes a stack and waits until it is gone.
func deleteStack(t *testing.T, namespace, name string) {
	t.Helper()
	ctx := t.Context()
	s := &hopsv1.FluxGitopsStack{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := env.Client.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
		t.Error(err)
	}
	testenv.Eventually(t, 3*time.Minute, func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), s)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("stack still there (%w): %+v", err, s.Status.Conditions)
	})
	// The engine's uninstall is issued, not awaited, by the stack: wait for it here so that
	// the next test starts from a cluster without the engine.
	testenv.Eventually(t, 3*time.Minute, func() error {
		hr := &helmv2.HelmRelease{}
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: fluxNS, Name: "weir"}, hr)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("engine HelmRelease still there: %w", err)
	})
}

// waitStack waits until the stack passes check.
func waitStack(t *testing.T, timeout time.Duration, check func(*hopsv1.FluxGitopsStack) error) *hopsv1.FluxGitopsStack {
	t.Helper()
	s := &hopsv1.FluxGitopsStack{}
	testenv.Eventually(t, timeout, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "flux-gitops"}, s); err != nil {
			return err
		}
		return check(s)
	})
	return s
}

// ready is a waitStack check: Ready=True for the stack's generation.
func ready(s *hopsv1.FluxGitopsStack) error {
	c := apimeta.FindStatusCondition(s.Status.Conditions, "Ready")
	if c == nil || c.Status != metav1.ConditionTrue || s.Status.ObservedGeneration != s.Generation || !s.Status.Ready {
		return fmt.Errorf("stack not ready: %+v", s.Status)
	}
	return nil
}

// condition is a waitStack check: the condition has status and reason.
func condition(typ string, status metav1.ConditionStatus, reason string) func(*hopsv1.FluxGitopsStack) error {
	return func(s *hopsv1.FluxGitopsStack) error {
		c := apimeta.FindStatusCondition(s.Status.Conditions, typ)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("%s = %+v, want %s/%s", typ, c, status, reason)
		}
		return nil
	}
}

// rollout stands in for kube-controller-manager and the kubelet, which this environment
// lacks, for weir's own Deployment: whenever flux-system/weir has a generation its status has
// not observed, the test marks the rollout complete, so that Helm's wait sees it Available.
func rollout(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var d appsv1.Deployment
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: fluxNS, Name: "weir"}, &d); err != nil || d.Status.ObservedGeneration == d.Generation {
				continue
			}
			n := int32(1)
			if d.Spec.Replicas != nil {
				n = *d.Spec.Replicas
			}
			now := metav1.Now()
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
				}}
			_ = env.Client.Status().Update(ctx, &d)
		}
	}()
}

// installCRD installs a stand-in CRD of testdata/crds and waits until it is served.
func installCRD(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(t.Context(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(crd), crd); err != nil {
			return err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return errors.New("CRD not established")
	})
}

// uninstallCRD removes a stand-in CRD of testdata/crds, if installed, and waits until it is gone.
func uninstallCRD(t *testing.T, name string) {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Delete(t.Context(), crd); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(crd), crd); !apierrors.IsNotFound(err) {
			return fmt.Errorf("CRD %s still there: %w", name, err)
		}
		return nil
	})
}

// actAsExternalSecrets does what External Secrets would do with the stack's ExternalSecret,
// for a store whose secret holds props: render the target Secret from the template and report
// the ExternalSecret Ready. External Secrets does not run here.
func actAsExternalSecrets(t *testing.T, props map[string]string) *unstructured.Unstructured {
	t.Helper()
	es := &unstructured.Unstructured{}
	es.SetAPIVersion("external-secrets.io/v1")
	es.SetKind("ExternalSecret")
	testenv.Eventually(t, time.Minute, func() error {
		return env.Client.Get(t.Context(), client.ObjectKey{Namespace: fluxNS, Name: "gitops-auth"}, es)
	})
	values := map[string]string{}
	refs, _, _ := unstructured.NestedSlice(es.Object, "spec", "data")
	for _, r := range refs {
		m := r.(map[string]any)
		prop, _, _ := unstructured.NestedString(m, "remoteRef", "property")
		values[m["secretKey"].(string)] = props[prop]
	}
	tmpl, _, _ := unstructured.NestedStringMap(es.Object, "spec", "target", "template", "data")
	data := map[string]string{}
	for k, v := range tmpl {
		for name, val := range values {
			v = strings.ReplaceAll(v, "{{ ."+name+" }}", val)
		}
		data[k] = v
	}
	// As External Secrets: the template's labels, and owned by the ExternalSecret (no garbage
	// collector runs here, so the stack's deletion of the labelled Secret is what removes it).
	labels, _, _ := unstructured.NestedStringMap(es.Object, "spec", "target", "template", "metadata", "labels")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: fluxNS, Name: "gitops-auth", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: es.GetName(), UID: es.GetUID()}}},
		StringData: data}
	if err := env.Client.Create(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(es.Object, []any{map[string]any{
		"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced",
	}}, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Status().Update(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	return es
}
