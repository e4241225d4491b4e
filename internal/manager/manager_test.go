package manager_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Options{}, &env) }

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestEveryFluxKindIsServed(t *testing.T) {
	kinds := []schema.GroupVersionKind{
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "Bucket"},
		{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"},
		{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
		{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3", Kind: "Provider"},
		{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3", Kind: "Alert"},
		{Group: "notification.toolkit.fluxcd.io", Version: "v1", Kind: "Receiver"},
		{Group: "image.toolkit.fluxcd.io", Version: "v1", Kind: "ImageRepository"},
		{Group: "image.toolkit.fluxcd.io", Version: "v1", Kind: "ImagePolicy"},
		{Group: "image.toolkit.fluxcd.io", Version: "v1", Kind: "ImageUpdateAutomation"},
	}
	for _, gvk := range kinds {
		t.Run(gvk.Kind, func(t *testing.T) {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := env.Client.List(t.Context(), list); err != nil {
				t.Fatalf("list %s: %v", gvk, err)
			}
		})
	}
}

func TestManagerServesProbesAndMetricsAndStopsCleanly(t *testing.T) {
	opts := manager.DefaultOptions()
	opts.MetricsAddr = freeAddr(t)
	opts.HealthAddr = freeAddr(t)
	opts.StorageAddr = freeAddr(t)
	opts.ReceiverAddr = freeAddr(t)
	opts.StoragePath = t.TempDir()
	opts.GracefulShutdown = 5 * time.Second

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- manager.Run(ctx, env.Config, opts, logr.Discard()) }()

	for _, url := range []string{
		"http://" + opts.HealthAddr + "/healthz",
		"http://" + opts.HealthAddr + "/readyz",
		"http://" + opts.MetricsAddr + "/metrics",
	} {
		testenv.Eventually(t, 30*time.Second, func() error {
			code, err := testenv.HTTPGet(t.Context(), url)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("GET %s: status %d", url, code)
			}
			return nil
		})
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("manager returned %v after cancellation, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("manager did not stop within 20s of cancellation")
	}
}

func TestOptionsRejectUnknownController(t *testing.T) {
	opts := manager.DefaultOptions()
	opts.Controllers = []string{"no-such-controller"}
	if err := opts.Validate(); err == nil {
		t.Fatal("Validate accepted an unknown controller")
	}
}

// TestLeaderElectionTimings starts a manager with leader election and Flux's timing flags: the
// Lease it holds carries the lease duration, and inconsistent timings are refused.
func TestLeaderElectionTimings(t *testing.T) {
	bad := manager.DefaultOptions()
	bad.RenewDeadline = bad.LeaseDuration
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "--leader-election-renew-deadline") {
		t.Fatalf("Validate of renew deadline = lease duration: %v", err)
	}

	opts := manager.DefaultOptions()
	opts.MetricsAddr, opts.HealthAddr, opts.StorageAddr, opts.ReceiverAddr = "0", freeAddr(t), freeAddr(t), freeAddr(t)
	opts.StoragePath = t.TempDir()
	opts.Controllers = []string{"gitrepository"}
	opts.EnableLeaderElection = true
	opts.LeaderElectionID = "weir-test-lease-timings"
	opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 47*time.Second, 20*time.Second, 3*time.Second
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: manager.RuntimeNamespace()}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- manager.Run(ctx, env.Config, opts, logr.Discard()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	testenv.Eventually(t, 30*time.Second, func() error {
		var lease coordinationv1.Lease
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: manager.RuntimeNamespace(), Name: opts.LeaderElectionID}, &lease); err != nil {
			return err
		}
		if d := lease.Spec.LeaseDurationSeconds; d == nil || *d != 47 {
			return fmt.Errorf("lease duration = %v, want 47", d)
		}
		return nil
	})
}
