package manager_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/shard"
	"github.com/weirgitops/weir/internal/testenv"
)

func TestAutoShardOptions(t *testing.T) {
	opts := manager.DefaultOptions()
	opts.AutoShard, opts.EnableLeaderElection = true, true
	if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), "--enable-leader-election") {
		t.Errorf("Validate of --auto-shard with leader election: %v", err)
	}
	opts = manager.DefaultOptions()
	opts.AutoShard, opts.AutoShardGroup = true, "not a label value"
	if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), "--auto-shard-group") {
		t.Errorf("Validate of a bad --auto-shard-group: %v", err)
	}
	opts = manager.DefaultOptions()
	opts.AutoShard = true
	if err := opts.Validate(); err != nil {
		t.Errorf("Validate of --auto-shard alone: %v", err)
	}
}

// TestAutoShardLeaseLifecycle runs one auto-sharded Manager: it holds a Lease of its group
// publishing the view of itself alone, and deletes it when it stops, so that the others take
// its objects over at once.
func TestAutoShardLeaseLifecycle(t *testing.T) {
	opts := manager.DefaultOptions()
	opts.MetricsAddr, opts.HealthAddr, opts.StorageAddr, opts.ReceiverAddr = "0", freeAddr(t), freeAddr(t), freeAddr(t)
	opts.StoragePath = t.TempDir()
	opts.Controllers = []string{"gitrepository"}
	opts.AutoShard, opts.AutoShardGroup = true, "lifecycle-test"
	opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 3*time.Second, 2*time.Second, 500*time.Millisecond
	if err := env.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: manager.RuntimeNamespace()}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	leases := func() ([]coordinationv1.Lease, error) {
		var list coordinationv1.LeaseList
		err := env.Client.List(t.Context(), &list, client.InNamespace(manager.RuntimeNamespace()),
			client.MatchingLabels{shard.GroupLabel: opts.AutoShardGroup})
		return list.Items, err
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- manager.Run(ctx, env.Config, opts, logr.Discard()) }()
	testenv.Eventually(t, 30*time.Second, func() error {
		ls, err := leases()
		if err != nil {
			return err
		}
		if len(ls) != 1 || ls[0].Spec.HolderIdentity == nil {
			return fmt.Errorf("%d leases in the group, want one held", len(ls))
		}
		if want := shard.NewView(*ls[0].Spec.HolderIdentity).ID(); ls[0].Annotations[shard.ViewAnnotation] != want {
			return fmt.Errorf("lease publishes view %q, want %q (itself alone)", ls[0].Annotations[shard.ViewAnnotation], want)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("manager: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30s")
	}
	if ls, err := leases(); err != nil || len(ls) != 0 {
		t.Fatalf("after a clean stop: %d leases in the group (%v), want none", len(ls), err)
	}
}
