package helmrelease

import (
	"fmt"
	"log/slog"
	"sync"

	"helm.sh/helm/v4/pkg/action"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restGetter gives Helm the clients of one rest.Config, in one namespace.
type restGetter struct {
	cfg       *rest.Config
	namespace string
	disc      discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
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
		disc := memory.NewMemCacheClient(dc)
		shared = &restGetter{disc: disc, mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc)}
		if len(discoveries.m) >= maxDiscoveries {
			clear(discoveries.m)
		}
		discoveries.m[key] = shared
	}
	return &restGetter{cfg: cfg, namespace: namespace, disc: shared.disc, mapper: shared.mapper}, nil
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
// records as the helm CLI keeps them (Secrets) in storageNamespace.
func newActionConfig(cfg *rest.Config, releaseNamespace, storageNamespace string, log *slog.Logger) (*action.Configuration, error) {
	getter, err := newRESTGetter(cfg, releaseNamespace)
	if err != nil {
		return nil, fmt.Errorf("create Helm client: %w", err)
	}
	ac := action.NewConfiguration()
	ac.SetLogger(log.Handler())
	if err := ac.Init(getter, storageNamespace, "secret"); err != nil {
		return nil, fmt.Errorf("create Helm client: %w", err)
	}
	return ac, nil
}
