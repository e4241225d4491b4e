package manager_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/config"
	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

// TestStackControllerOffWithoutItsCRD runs weir on a cluster without the FluxGitopsStack CRD,
// as one that Flux installed: the controller stays off and the manager runs.
func TestStackControllerOffWithoutItsCRD(t *testing.T) {
	data, err := config.CRDs.ReadFile("crd/bases/hops.ops.com.ai_fluxgitopsstacks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(t.Context(), crd.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Create(context.Background(), crd.DeepCopy()) })
	testenv.Eventually(t, time.Minute, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("CRD still there: %w", err)
		}
		return nil
	})

	var logs testenv.SyncBuffer
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(&logs, prefix, args) }, funcr.Options{})
	opts := manager.DefaultOptions()
	opts.Controllers = []string{"fluxgitopsstack"}
	opts.MetricsAddr, opts.HealthAddr, opts.StorageAddr, opts.ReceiverAddr = freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	opts.StoragePath = t.TempDir()
	opts.GracefulShutdown = 5 * time.Second
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- manager.Run(ctx, env.Config, opts, log) }()
	testenv.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(logs.String(), "the FluxGitopsStack CRD is not installed") {
			return fmt.Errorf("no word of the missing CRD in the log:\n%s", logs.String())
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("manager returned %v, want it to run without the controller", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("manager did not stop within 20s of cancellation")
	}
}
