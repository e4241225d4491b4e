package manager

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	hopsv1alpha1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/controller/helmrelease"
	"github.com/weirgitops/weir/internal/controller/image"
	"github.com/weirgitops/weir/internal/controller/kustomize"
	"github.com/weirgitops/weir/internal/controller/notification"
	"github.com/weirgitops/weir/internal/controller/source"
	"github.com/weirgitops/weir/internal/controller/stack"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/gitauth"
	"github.com/weirgitops/weir/internal/imagetags"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/helm"
	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/target"
	"github.com/weirgitops/weir/internal/version"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// controller is one reconciler that can run in the Manager.
type controller struct {
	name  string
	setup func(ctx context.Context, mgr ctrl.Manager, s *shared) error
}

// shared is what the controllers of one Manager share: the options, the artifact store and
// the event bus.
type shared struct {
	opts  Options
	store *artifact.Store
	bus   *event.Bus
	log   logr.Logger
	// indexes are the parsed Helm repository indexes, shared by HelmRepositories (which parse
	// a new revision once) and HelmCharts (which read it).
	indexes *helm.IndexCache
	// tags is the image tag store of ImageRepositories and ImagePolicies, opened by the first
	// of them to start.
	tags *imagetags.Store
	// gitAuth reads GitRepositories' credentials for the source and the image automation, one
	// GitHub App token per repository for both.
	gitAuth *gitauth.Resolver
}

// controllers lists every controller weir has, in start order.
var controllers = []controller{
	{name: "gitrepository", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		configs, err := s.opts.ConfigsSelector()
		if err != nil {
			return err
		}
		r := &source.GitRepositoryReconciler{
			Client:          mgr.GetClient(),
			Store:           s.store,
			Recorder:        s.recorder(mgr, source.ControllerName, sourcev1.GroupVersion.Group),
			Retry:           s.retry(),
			TempDir:         s.opts.TempDir,
			ConfigsSelector: configs,
			GitAuth:         s.gitAuthResolver(),
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "ocirepository", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &source.OCIRepositoryReconciler{
			Client:   mgr.GetClient(),
			Store:    s.store,
			Recorder: s.recorder(mgr, source.ControllerName, sourcev1.GroupVersion.Group),
			Retry:    s.retry(),
			TempDir:  s.opts.TempDir,
			Limits:   oci.Limits{MaxLayerSize: s.opts.ArtifactMaxSize},
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "bucket", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &source.BucketReconciler{
			Client:   mgr.GetClient(),
			Store:    s.store,
			Recorder: s.recorder(mgr, source.ControllerName, sourcev1.GroupVersion.Group),
			Retry:    s.retry(),
			TempDir:  s.opts.TempDir,
			MaxSize:  s.opts.ArtifactMaxSize,
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "helmrepository", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &source.HelmRepositoryReconciler{
			Client:       mgr.GetClient(),
			Store:        s.store,
			Recorder:     s.recorder(mgr, source.ControllerName, sourcev1.GroupVersion.Group),
			Retry:        s.retry(),
			MaxIndexSize: s.opts.HelmIndexMaxSize,
			Indexes:      s.indexes,
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "helmchart", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &source.HelmChartReconciler{
			Client:            mgr.GetClient(),
			Store:             s.store,
			Recorder:          s.recorder(mgr, source.ControllerName, sourcev1.GroupVersion.Group),
			Retry:             s.retry(),
			TempDir:           s.opts.TempDir,
			MaxChartSize:      s.opts.HelmChartMaxSize,
			Indexes:           s.indexes,
			RequeueDependency: s.opts.RequeueDependency,
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "helmrelease", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		configs, err := s.opts.ConfigsSelector()
		if err != nil {
			return err
		}
		r := &helmrelease.Reconciler{
			Client:                     mgr.GetClient(),
			Store:                      s.store,
			Recorder:                   s.recorder(mgr, helmrelease.ControllerName, helmv2.GroupVersion.Group),
			Retry:                      s.retry(),
			RequeueDependency:          s.opts.RequeueDependency,
			NoCrossNamespaceRefs:       s.opts.NoCrossNamespaceRefs,
			AdditiveCELDependencyCheck: s.opts.Gates.Enabled(features.AdditiveCELDependencyCheck),
			UseHelm3Defaults:           s.opts.Gates.Enabled(features.UseHelm3Defaults),
			DefaultToRetryOnFailure:    s.opts.Gates.Enabled(features.DefaultToRetryOnFailure),
			DisableChartDigestTracking: s.opts.Gates.Enabled(features.DisableChartDigestTracking),
			AllowDNSLookups:            s.opts.Gates.Enabled(features.AllowDNSLookups),
			ConfigsSelector:            configs,
			TempDir:                    s.opts.TempDir,
			Targets: &target.Factory{Base: mgr.GetConfig(), Reader: mgr.GetAPIReader(),
				DefaultServiceAccount: s.opts.DefaultServiceAccount, KubeConfigs: s.opts.kubeConfigPolicy()},
			Log: s.log.WithName("helm"),
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "kustomization", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &kustomize.Reconciler{
			Client:                          mgr.GetClient(),
			Store:                           s.store,
			Recorder:                        s.recorder(mgr, kustomize.ControllerName, kustomizev1.GroupVersion.Group),
			RequeueDependency:               s.opts.RequeueDependency,
			Retry:                           s.retry(),
			Gates:                           s.opts.Gates,
			NoCrossNamespaceRefs:            s.opts.NoCrossNamespaceRefs,
			NoRemoteBases:                   s.opts.NoRemoteBases,
			DefaultServiceAccount:           s.opts.DefaultServiceAccount,
			DefaultKubeConfigServiceAccount: s.opts.DefaultKubeConfigServiceAccount,
			ConcurrentSSA:                   s.opts.ConcurrentSSA,
			OverrideManagers:                s.opts.OverrideManagers,
			TempDir:                         s.opts.TempDir,
			BuildCacheSize:                  s.opts.BuildCacheSize,
			KubeConfigs:                     s.opts.kubeConfigPolicy(),
		}
		kinds, err := s.opts.StageKinds()
		if err != nil {
			return err
		}
		r.CustomStageKinds = kinds
		r.Decryption = kustomize.Decryption{DefaultServiceAccount: s.opts.DefaultDecryptionServiceAccount}
		if n := s.opts.SopsAgeSecret; n != "" {
			r.Decryption.AgeSecret = &types.NamespacedName{Namespace: RuntimeNamespace(), Name: n}
		}
		if n := s.opts.SopsVaultConfigMap; n != "" {
			r.Decryption.VaultConfigMap = &types.NamespacedName{Namespace: RuntimeNamespace(), Name: n}
		}
		if r.ConfigsSelector, err = s.opts.ConfigsSelector(); err != nil {
			return err
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "imagerepository", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		tags, err := s.imageTags()
		if err != nil {
			return err
		}
		r := &image.ImageRepositoryReconciler{
			Client:   mgr.GetClient(),
			Recorder: s.recorder(mgr, image.ControllerName, imagev1.GroupVersion.Group),
			Retry:    s.retry(),
			Tags:     tags,
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "imagepolicy", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		tags, err := s.imageTags()
		if err != nil {
			return err
		}
		r := &image.ImagePolicyReconciler{
			Client:               mgr.GetClient(),
			Recorder:             s.recorder(mgr, image.ControllerName, imagev1.GroupVersion.Group),
			Retry:                s.retry(),
			Tags:                 tags,
			NoCrossNamespaceRefs: s.opts.NoCrossNamespaceRefs,
			RequeueDependency:    s.opts.RequeueDependency,
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "fluxgitopsstack", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		// A cluster installed by Flux has no FluxGitopsStack CRD: weir runs there without this
		// controller rather than failing to start.
		gk := hopsv1alpha1.GroupVersion.WithKind(hopsv1alpha1.FluxGitopsStackKind).GroupKind()
		if _, err := mgr.GetRESTMapper().RESTMapping(gk, hopsv1alpha1.GroupVersion.Version); apimeta.IsNoMatchError(err) {
			s.log.Info("the FluxGitopsStack CRD is not installed: the fluxgitopsstack controller does not run (weir install installs it)")
			return nil
		}
		r := &stack.Reconciler{
			Client:    mgr.GetClient(),
			APIReader: mgr.GetAPIReader(),
			Store:     s.store,
			Recorder:  s.recorder(mgr, stack.ControllerName, hopsv1alpha1.GroupVersion.Group),
			Retry:     s.retry(),
			Namespace: RuntimeNamespace(),
			Version:   version.Version,
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "imageupdateautomation", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &image.ImageUpdateAutomationReconciler{
			Client:               mgr.GetClient(),
			Recorder:             s.recorder(mgr, image.AutomationControllerName, imageautov1.GroupVersion.Group),
			Retry:                s.retry(),
			NoCrossNamespaceRefs: s.opts.NoCrossNamespaceRefs,
			RequeueDependency:    s.opts.RequeueDependency,
			TempDir:              s.opts.TempDir,
			GitAuth:              s.gitAuthResolver(),
		}
		return r.SetupWithManager(ctx, mgr, s.opts.Concurrent)
	}},
	{name: "receiver", setup: func(ctx context.Context, mgr ctrl.Manager, s *shared) error {
		r := &notification.ReceiverReconciler{
			Client:    mgr.GetClient(),
			APIReader: mgr.GetAPIReader(),
			Recorder:  s.recorder(mgr, notification.ControllerName, notificationv1.GroupVersion.Group),
			Retry:     s.retry(),
		}
		if err := r.SetupWithManager(ctx, mgr, s.opts.Concurrent); err != nil {
			return err
		}
		h := &notification.Webhooks{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
			Recorder:             s.recorder(mgr, notification.ControllerName, notificationv1.GroupVersion.Group),
			NoCrossNamespaceRefs: s.opts.NoCrossNamespaceRefs, Log: s.log.WithName("receiver-server")}
		return mgr.Add(httpServer("receiver-server", s.opts.ReceiverAddr, h))
	}},
	{name: "notification", setup: func(_ context.Context, mgr ctrl.Manager, s *shared) error {
		d := &notification.Dispatcher{
			Client: mgr.GetClient(), Bus: s.bus, NoCrossNamespaceRefs: s.opts.NoCrossNamespaceRefs,
			// Events about Alerts go to the API only: an Alert never selects another Alert.
			Recorder: event.NewRecorder(mgr.GetEventRecorderFor(notification.ControllerName), mgr.GetScheme(), //nolint:staticcheck // Flux's recorder, as in recorder()
				notification.ControllerName, notificationv1beta3.GroupVersion.Group, nil),
			Dedup: &notification.Deduper{Interval: s.opts.RateLimitInterval},
			Log:   s.log.WithName("notification"),
		}
		if err := mgr.Add(d); err != nil {
			return err
		}
		return mgr.Add(httpServer("events-server", s.opts.EventsListenAddr, d.EventsHandler()))
	}},
}

// gitAuthResolver returns the Git credential reader the controllers share, creating it on
// first use (controllers are set up one after the other).
func (s *shared) gitAuthResolver() *gitauth.Resolver {
	if s.gitAuth == nil {
		s.gitAuth = &gitauth.Resolver{}
	}
	return s.gitAuth
}

// imageTags opens the image tag store under the storage path, in a hidden directory that the
// artifact server never serves.
func (s *shared) imageTags() (*imagetags.Store, error) {
	if s.tags != nil {
		return s.tags, nil
	}
	t, err := imagetags.New(filepath.Join(s.opts.StoragePath, ".imagetags"), 0)
	if err != nil {
		return nil, err
	}
	s.tags = t
	return t, nil
}

// retry returns a controller's own failure bookkeeping, with the process's delays.
func (s *shared) retry() *reconcile.Retry {
	return &reconcile.Retry{MinInterval: s.opts.MinInterval, MinDelay: s.opts.MinRetryDelay, MaxDelay: s.opts.MaxRetryDelay}
}

func (s *shared) recorder(mgr ctrl.Manager, controller, group string) *event.Recorder {
	// The core/v1 recorder, as Flux's: only it writes the metadata annotations on Events.
	return event.NewRecorder(mgr.GetEventRecorderFor(controller), mgr.GetScheme(), controller, group, s.bus) //nolint:staticcheck // see above
}

// ControllerNames returns the names accepted by --controllers.
func ControllerNames() []string {
	names := make([]string, 0, len(controllers))
	for _, c := range controllers {
		names = append(names, c.name)
	}
	return names
}

func setupControllers(ctx context.Context, mgr ctrl.Manager, s *shared, sh *sharding) error {
	for _, c := range controllers {
		if !slices.Contains(s.opts.Controllers, c.name) {
			continue
		}
		if err := c.setup(ctx, sh.manager(mgr, c.name), s); err != nil {
			return fmt.Errorf("set up controller %s: %w", c.name, err)
		}
	}
	return nil
}

// watchedByObject restricts the caches of weir's own kinds to the --watch-label-selector,
// which is how Flux shards: other kinds (Secrets, applied objects) are not filtered.
func watchedByObject(sel labels.Selector) map[client.Object]cache.ByObject {
	objs := []client.Object{
		&sourcev1.GitRepository{}, &sourcev1.OCIRepository{}, &sourcev1.HelmRepository{},
		&sourcev1.HelmChart{}, &sourcev1.Bucket{}, &kustomizev1.Kustomization{},
		&helmv2.HelmRelease{}, &notificationv1.Receiver{}, &imagev1.ImageRepository{},
		&imagev1.ImagePolicy{}, &imageautov1.ImageUpdateAutomation{}, &hopsv1alpha1.FluxGitopsStack{},
	}
	m := make(map[client.Object]cache.ByObject, len(objs))
	for _, o := range objs {
		m[o] = cache.ByObject{Label: sel}
	}
	return m
}
