package manager

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	ctrlmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	hopsv1alpha1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/shard"
)

// shardKinds are the kinds of the controllers that reconcile through the skeleton, by
// controller name: what automatic sharding divides, and lists to enqueue what a replica gains.
var shardKinds = map[string]func() client.ObjectList{
	"gitrepository":         func() client.ObjectList { return &sourcev1.GitRepositoryList{} },
	"ocirepository":         func() client.ObjectList { return &sourcev1.OCIRepositoryList{} },
	"bucket":                func() client.ObjectList { return &sourcev1.BucketList{} },
	"helmrepository":        func() client.ObjectList { return &sourcev1.HelmRepositoryList{} },
	"helmchart":             func() client.ObjectList { return &sourcev1.HelmChartList{} },
	"helmrelease":           func() client.ObjectList { return &helmv2.HelmReleaseList{} },
	"kustomization":         func() client.ObjectList { return &kustomizev1.KustomizationList{} },
	"imagerepository":       func() client.ObjectList { return &imagev1.ImageRepositoryList{} },
	"imagepolicy":           func() client.ObjectList { return &imagev1.ImagePolicyList{} },
	"imageupdateautomation": func() client.ObjectList { return &imageautov1.ImageUpdateAutomationList{} },
	"receiver":              func() client.ObjectList { return &notificationv1.ReceiverList{} },
	"fluxgitopsstack":       func() client.ObjectList { return &hopsv1alpha1.FluxGitopsStackList{} },
}

// sharding is automatic sharding's wiring: the Gate every skeleton consults (through the
// Manager's base context), the Membership that drives it, and one channel per controller to
// enqueue the objects the replica gains.
type sharding struct {
	gate       *shard.Gate
	membership *shard.Membership
	channels   map[string]chan event.GenericEvent
}

// newSharding prepares automatic sharding before the Manager exists (its base context carries
// the Gate).
func newSharding(opts Options, log logr.Logger) (*sharding, error) {
	id, err := shard.NewIdentity()
	if err != nil {
		return nil, fmt.Errorf("shard identity: %w", err)
	}
	if err := shard.RegisterMetrics(metrics.Registry); err != nil {
		return nil, fmt.Errorf("register shard metrics: %w", err)
	}
	g := shard.NewGate(id)
	return &sharding{gate: g, channels: map[string]chan event.GenericEvent{}, membership: &shard.Membership{
		Namespace: RuntimeNamespace(), Group: opts.AutoShardGroup, Gate: g,
		LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod,
		Grace: opts.GracefulShutdown, Log: log.WithName("shard"),
	}}, nil
}

// start adds the Membership to mgr, once the controllers are set up.
func (s *sharding) start(mgr ctrl.Manager) error {
	s.membership.Reader, s.membership.Client = mgr.GetAPIReader(), mgr.GetClient()
	// Keys follow a HelmRelease's chartRef to its HelmChart through the cache.
	s.gate.Reader = mgr.GetCache()
	s.membership.Objects = func(ctx context.Context, visit func(client.Object) bool) error {
		return s.enqueue(ctx, mgr, visit)
	}
	return mgr.Add(s.membership)
}

// enqueue lists every sharded kind from the cache and sends the objects visit selects to their
// controllers, without blocking the caller.
func (s *sharding) enqueue(ctx context.Context, mgr ctrl.Manager, visit func(client.Object) bool) error {
	for name, ch := range s.channels {
		list := shardKinds[name]()
		if err := mgr.GetCache().List(ctx, list); err != nil {
			return fmt.Errorf("list %s: %w", name, err)
		}
		var gained []client.Object
		if err := apimeta.EachListItem(list, func(o runtime.Object) error {
			if obj, ok := o.(client.Object); ok && visit(obj) {
				gained = append(gained, obj)
			}
			return nil
		}); err != nil {
			return err
		}
		if len(gained) == 0 {
			continue
		}
		go func() {
			for _, obj := range gained {
				select {
				case ch <- event.GenericEvent{Object: obj}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return nil
}

// manager returns mgr for the setup of controller name: each controller it adds also watches
// a channel of the objects the replica gains.
func (s *sharding) manager(mgr ctrl.Manager, name string) ctrl.Manager {
	if s == nil || shardKinds[name] == nil {
		return mgr
	}
	return shardedManager{Manager: mgr, name: name, s: s}
}

type shardedManager struct {
	ctrl.Manager
	name string
	s    *sharding
}

// Add adds r, and when r is the controller of a sharded kind, the channel of gained objects to
// its watches.
func (m shardedManager) Add(r ctrlmanager.Runnable) error {
	if w, ok := r.(interface {
		Watch(source.TypedSource[ctrlreconcile.Request]) error
	}); ok {
		if _, dup := m.s.channels[m.name]; !dup {
			ch := make(chan event.GenericEvent)
			if err := w.Watch(source.Channel(ch, &handler.EnqueueRequestForObject{})); err != nil {
				return fmt.Errorf("watch the objects %s gains: %w", m.name, err)
			}
			m.s.channels[m.name] = ch
		}
	}
	return m.Manager.Add(r)
}
