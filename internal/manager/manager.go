package manager

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/residency"
	"github.com/weirgitops/weir/internal/source/helm"
)

// RESTConfig loads the Kubernetes client configuration: an explicit kubeconfig path wins,
// then $KUBECONFIG, the in-cluster configuration and ~/.kube/config.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubernetes config: %w", err)
	}
	return cfg, nil
}

// New builds the Manager with every selected controller registered on it.
func New(ctx context.Context, cfg *rest.Config, opts Options, log logr.Logger) (ctrl.Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = opts.KubeAPIQPS
	cfg.Burst = opts.KubeAPIBurst
	cfg.UserAgent = "weir"

	// Nothing reads managedFields or kubectl's last-applied record from the cache (appliers
	// read live objects uncached); they are often half of an object, so the informers, health
	// waits' included, drop them.
	cacheOpts := cache.Options{DefaultTransform: trimCached}
	if !opts.WatchAllNamespaces {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{RuntimeNamespace(): {}}
	}
	if opts.WatchLabelSelector != "" {
		sel, err := labels.Parse(opts.WatchLabelSelector)
		if err != nil {
			return nil, fmt.Errorf("parse --watch-label-selector: %w", err)
		}
		cacheOpts.ByObject = watchedByObject(sel)
	}
	var sh *sharding
	baseContext := context.Background
	if opts.AutoShard {
		var err error
		if sh, err = newSharding(opts, log); err != nil {
			return nil, err
		}
		// Every controller's reconciles run under a context derived from this one: the
		// skeleton finds the Gate there.
		baseContext = func() context.Context { return reconcile.WithGate(context.Background(), sh.gate) }
	}
	shutdown := opts.GracefulShutdown
	skipNameValidation := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		BaseContext:                   baseContext,
		Scheme:                        NewScheme(),
		Logger:                        log,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        opts.HealthAddr,
		LeaderElection:                opts.EnableLeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       RuntimeNamespace(),
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		GracefulShutdownTimeout:       &shutdown,
		// Secrets and ConfigMaps are read from the API server when needed, never cached whole:
		// a cluster's Secrets are not weir's to hold in memory (Flux's default too).
		Client: client.Options{Cache: &client.CacheOptions{
			DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}},
		}},
		Controller: config.Controller{
			MaxConcurrentReconciles: opts.Concurrent,
			RecoverPanic:            ptrTo(true),
			SkipNameValidation:      &skipNameValidation,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add ready check: %w", err)
	}
	store, err := artifact.New(artifact.Options{
		Root:           opts.StoragePath,
		AdvertisedAddr: advertisedAddr(opts),
		MaxSize:        opts.ArtifactMaxSize,
	})
	if err != nil {
		return nil, fmt.Errorf("open artifact store: %w", err)
	}
	if err := mgr.Add(httpServer("artifact-server", opts.StorageAddr, store.Handler())); err != nil {
		return nil, fmt.Errorf("add artifact server: %w", err)
	}
	if opts.PprofAddr != "" {
		if err := mgr.Add(httpServer("pprof", opts.PprofAddr, pprofHandler())); err != nil {
			return nil, fmt.Errorf("add pprof server: %w", err)
		}
	}
	if opts.TempDir, err = addScratch(mgr, opts.TempDir); err != nil {
		return nil, err
	}
	s := &shared{opts: opts, store: store, bus: &event.Bus{}, log: log,
		indexes: &helm.IndexCache{Size: max(1, opts.HelmCacheMaxSize)}}
	if opts.EventsAddr != "" {
		f := &event.Forwarder{URL: opts.EventsAddr, Log: log.WithName("events")}
		// Subscribe now, so that no event of the first reconciles is missed.
		if err := mgr.Add(forwarder{f: f, bus: s.bus}); err != nil {
			return nil, fmt.Errorf("add event forwarder: %w", err)
		}
	}
	if err := setupControllers(ctx, mgr, s, sh); err != nil {
		return nil, err
	}
	if sh != nil {
		if err := sh.start(mgr); err != nil {
			return nil, fmt.Errorf("add shard membership: %w", err)
		}
	}
	if opts.UIAddr != "" {
		if err := addUI(ctx, mgr, opts); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// Run builds the Manager and runs it until ctx is cancelled. It returns nil after a clean
// shutdown, once in-flight reconciles finished or the graceful-shutdown timeout passed.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log logr.Logger) error {
	mgr, err := New(ctx, cfg, opts, log)
	if err != nil {
		return err
	}
	gc := setGCPercent(opts.GCPercent, os.Getenv)
	if residency.Enabled() {
		if err := mgr.Add(releasePages{cache: mgr.GetCache(), interval: opts.ReleasePagesInterval, log: log}); err != nil {
			return fmt.Errorf("add page release: %w", err)
		}
	}
	log.Info("starting manager", "controllers", opts.Controllers, "concurrent", opts.Concurrent, "gcPercent", gc)
	start := time.Now()
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	log.Info("manager stopped", "uptime", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// stripManagedFields is controller-runtime's transform that drops metadata.managedFields.
var stripManagedFields = cache.TransformStripManagedFields()

// trimCached is the informers' transform: it drops from every cached object what nothing
// reads from the cache, metadata.managedFields and kubectl's last-applied annotation.
func trimCached(in any) (any, error) {
	out, err := stripManagedFields(in)
	if err != nil {
		return out, err
	}
	if o, ok := out.(metav1.Object); ok {
		if a := o.GetAnnotations(); a != nil {
			if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
				trimmed := make(map[string]string, len(a)-1)
				for k, v := range a {
					if k != corev1.LastAppliedConfigAnnotation {
						trimmed[k] = v
					}
				}
				o.SetAnnotations(trimmed)
			}
		}
	}
	return out, nil
}

// releasePages drops the executable's pages that starting the controllers touched from the
// resident set once the caches have synced (informer and controller set-up code runs once),
// then every interval those not used since the last release (internal/residency).
type releasePages struct {
	cache    interface{ WaitForCacheSync(context.Context) bool }
	interval time.Duration
	log      logr.Logger
}

func (r releasePages) Start(ctx context.Context) error {
	if !r.cache.WaitForCacheSync(ctx) {
		return nil
	}
	n := residency.Release()
	r.log.V(1).Info("released the executable's pages from the resident set", "mappedMiB", n>>20, "interval", r.interval.String())
	if r.interval <= 0 {
		return nil
	}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			residency.Release()
		}
	}
}

func (releasePages) NeedLeaderElection() bool { return false }

// pprofHandler serves the runtime profiles of net/http/pprof under /debug/pprof/.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func ptrTo[T any](v T) *T { return &v }

// forwarder runs an event Forwarder in every replica: only the leader's reconcilers record
// events, so the others forward none.
type forwarder struct {
	f   *event.Forwarder
	bus *event.Bus
}

func (w forwarder) Start(ctx context.Context) error { return w.f.Run(ctx, w.bus) }
func (forwarder) NeedLeaderElection() bool          { return false }
