package bootstrap_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/cli"
	"github.com/weirgitops/weir/internal/install"
	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

// TestMain runs the tests on one control plane with weir's GitRepository and Kustomization
// controllers in-process: they stand in for the weir that bootstrap installs, which cannot run
// here (no kubelet, no kube-controller-manager; see rollout).
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "kustomization"}
		o.MinInterval = time.Second
	})))
}

// run runs the weir CLI in-process against the test control plane and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := cli.NewRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(append([]string{"--kubeconfig", env.Kubeconfig, "--timeout", "3m"}, args...))
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// rollout stands in for kube-controller-manager and the kubelet for the weir Deployment that
// bootstrap installs in namespace: the test marks each of its generations rolled out.
func rollout(t *testing.T, namespace string) {
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
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "weir"}, &d); err != nil || d.Status.ObservedGeneration == d.Generation {
				continue
			}
			now := metav1.Now()
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now}}}
			_ = env.Client.Status().Update(ctx, &d)
		}
	}()
}

// applyYAML applies one YAML document as the test's own field manager.
func applyYAML(t *testing.T, doc string) {
	t.Helper()
	objs, err := install.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := install.Apply(t.Context(), env.Client, objs); err != nil {
		t.Fatal(err)
	}
}

// waitDeployment waits until the Deployment exists (or is gone).
func waitDeployment(t *testing.T, namespace, name string, exists bool) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, &appsv1.Deployment{})
		switch {
		case exists && err != nil:
			return err
		case !exists && !apierrors.IsNotFound(err):
			return fmt.Errorf("deployment %s/%s still there: %w", namespace, name, err)
		}
		return nil
	})
}
