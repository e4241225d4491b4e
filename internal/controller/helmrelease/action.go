package helmrelease

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/validation"

	"github.com/weirgitops/weir/internal/faultpoint"
)

// restGetter gives Helm the clients of one rest.Config, in one namespace.
type restGetter struct {
	cfg       *rest.Config
	namespace string
	disc      discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
	// verifier tells every action on this cluster and identity whether the API server
	// validates fields itself.
	verifier *fieldValidationVerifier
}

var _ genericclioptions.RESTClientGetter = (*restGetter)(nil)

// discoveries shares one cached discovery client and REST mapper per cluster and identity
// between reconciles: building them per release costs a discovery round of API requests and
// their memory every time.
var discoveries = struct {
	sync.Mutex
	m map[string]*restGetter
}{m: map[string]*restGetter{}}

// maxDiscoveries bounds the cache (identities times clusters); past it, it starts over.
const maxDiscoveries = 128

func newRESTGetter(cfg *rest.Config, namespace string) (*restGetter, error) {
	key := cfg.Host + "|" + cfg.Impersonate.UserName + "|" + cfg.Username + "|" + fmt.Sprint(len(cfg.BearerToken), len(cfg.CertData))
	discoveries.Lock()
	defer discoveries.Unlock()
	shared, ok := discoveries.m[key]
	if !ok {
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return nil, err
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		disc := memory.NewMemCacheClient(dc)
		shared = &restGetter{disc: disc, mapper: &refreshingMapper{DeferredDiscoveryRESTMapper: restmapper.NewDeferredDiscoveryRESTMapper(disc)},
			verifier: newFieldValidationVerifier(dyn, dc)} // dc, uncached: see newFieldValidationVerifier
		if len(discoveries.m) >= maxDiscoveries {
			clear(discoveries.m)
		}
		discoveries.m[key] = shared
	}
	return &restGetter{cfg: cfg, namespace: namespace, disc: shared.disc, mapper: shared.mapper, verifier: shared.verifier}, nil
}

// refreshingMapper is the shared discovery's REST mapper that looks again, at most once per
// refreshInterval, when a kind is not found: the cached discovery is never stale otherwise,
// and a kind whose CRD was installed after the first release (by an earlier release, or a
// prometheus-operator installed later) would stay unknown until weir restarts.
type refreshingMapper struct {
	*restmapper.DeferredDiscoveryRESTMapper
	mu   sync.Mutex
	last time.Time
}

// refreshInterval bounds how often a missing kind sends discovery to the API server again.
const refreshInterval = 5 * time.Second

// refresh resets the discovery cache unless it was reset within refreshInterval.
func (m *refreshingMapper) refresh() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.last) < refreshInterval {
		return false
	}
	m.last = time.Now()
	m.Reset()
	return true
}

// RESTMapping maps a kind, with a discovery refresh when it is not found.
func (m *refreshingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	r, err := m.DeferredDiscoveryRESTMapper.RESTMapping(gk, versions...)
	if meta.IsNoMatchError(err) && m.refresh() {
		return m.DeferredDiscoveryRESTMapper.RESTMapping(gk, versions...)
	}
	return r, err
}

// RESTMappings maps a kind to every version, with a discovery refresh when it is not found.
func (m *refreshingMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	r, err := m.DeferredDiscoveryRESTMapper.RESTMappings(gk, versions...)
	if meta.IsNoMatchError(err) && m.refresh() {
		return m.DeferredDiscoveryRESTMapper.RESTMappings(gk, versions...)
	}
	return r, err
}

// KindFor maps a resource to its kind, with a discovery refresh when it is not found.
func (m *refreshingMapper) KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	k, err := m.DeferredDiscoveryRESTMapper.KindFor(resource)
	if meta.IsNoMatchError(err) && m.refresh() {
		return m.DeferredDiscoveryRESTMapper.KindFor(resource)
	}
	return k, err
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.disc, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

// ToRawKubeConfigLoader is only asked for the namespace.
func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(*clientcmdapi.NewConfig(),
		&clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}

// newActionConfig is Helm's action configuration: objects in releaseNamespace, release
// records as the helm CLI keeps them (Secrets) in storageNamespace. releaseLabels, when set,
// are the labels the post-renderer puts on every object of the release: its waits watch only
// the objects that carry them (scopeWaits).
func newActionConfig(cfg *rest.Config, releaseNamespace, storageNamespace string, log *slog.Logger,
	releaseLabels map[string]string) (*action.Configuration, error) {
	getter, err := newRESTGetter(cfg, releaseNamespace)
	if err != nil {
		return nil, fmt.Errorf("create Helm client: %w", err)
	}
	ac := action.NewConfiguration()
	ac.SetLogger(log.Handler())
	if err := ac.Init(getter, storageNamespace, "secret"); err != nil {
		return nil, fmt.Errorf("create Helm client: %w", err)
	}
	ac.Releases.Driver = markingDriver{Driver: ac.Releases.Driver}
	kc, ok := ac.KubeClient.(*kube.Client)
	if !ok {
		return ac, nil
	}
	f, ok := kc.Factory.(cmdutil.Factory)
	if !ok {
		return ac, nil
	}
	kc.Factory = &factory{Factory: f, verifier: getter.verifier}
	if len(releaseLabels) > 0 {
		scopeWaits(ac, kc, getter, releaseLabels)
	}
	return ac, nil
}

// factory is the kubectl factory Helm builds for each action, with the field-validation
// verifier shared by every action on its cluster and identity and, for waits scoped to a
// release, a dynamic client whose informers select the release's objects.
type factory struct {
	cmdutil.Factory
	verifier *fieldValidationVerifier
	// selector, when set, is added to the dynamic client's lists and watches that have none.
	selector string
}

// Validator is kubectl's: with directive Ignore nothing is checked; otherwise the API server
// validates fields where it can (every supported Kubernetes version does), and the client
// validates against the OpenAPI schema where it cannot.
func (f *factory) Validator(directive string) (validation.Schema, error) {
	if directive == metav1.FieldValidationIgnore {
		return validation.NullSchema{}, nil
	}
	schema := validation.ConjunctiveSchema{validation.NewSchemaValidation(f.Factory), validation.NoDoubleKeySchema{}}
	return validation.NewParamVerifyingSchema(schema, f.verifier, directive), nil
}

// DynamicClient is the factory's, selecting f.selector's objects when it is set.
func (f *factory) DynamicClient() (dynamic.Interface, error) {
	c, err := f.Factory.DynamicClient()
	if err != nil || f.selector == "" {
		return c, err
	}
	return selectingClient{Interface: c, selector: f.selector}, nil
}

// markingDriver is Helm's release storage with the fault point HelmUpgrading marked where an
// upgrade has stored its pending release and not yet touched the release's objects.
type markingDriver struct{ driver.Driver }

// Create stores rls.
func (d markingDriver) Create(key string, rls release.Releaser) error {
	err := d.Driver.Create(key, rls)
	if r, ok := rls.(*releasev1.Release); ok && err == nil && r.Info != nil && r.Info.Status == common.StatusPendingUpgrade {
		faultpoint.Hit(faultpoint.HelmUpgrading)
	}
	return err
}
