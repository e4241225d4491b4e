package manager

import (
	"fmt"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/target"
)

// Options are the settings of `weir controller`. Flag names follow Flux's controllers wherever
// Flux has the flag, so that an operator's habits and manifests carry over.
type Options struct {
	Kubeconfig           string
	MetricsAddr          string
	HealthAddr           string
	EnableLeaderElection bool
	LeaderElectionID     string
	// LeaseDuration, RenewDeadline and RetryPeriod time leader election, as Flux's
	// --leader-election-lease-duration, -renew-deadline and -retry-period.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Concurrent                                int
	RequeueDependency                         time.Duration
	WatchAllNamespaces                        bool
	WatchLabelSelector                        string
	StoragePath                               string
	StorageAddr                               string
	StorageAdvAddr                            string
	ReceiverAddr                              string
	LogLevel                                  string
	LogEncoding                               string
	NoCrossNamespaceRefs                      bool
	NoRemoteBases                             bool
	// InsecureKubeConfigExec and InsecureKubeConfigTLS are Flux's --insecure-kubeconfig-exec
	// and --insecure-kubeconfig-tls: kubeconfig Secrets may run exec plugins, or skip TLS
	// verification.
	InsecureKubeConfigExec bool
	InsecureKubeConfigTLS  bool
	DefaultServiceAccount  string
	// DefaultKubeConfigServiceAccount is Flux's --default-kubeconfig-service-account.
	DefaultKubeConfigServiceAccount string
	Controllers                     []string
	GracefulShutdown                time.Duration
	KubeAPIQPS                      float32
	KubeAPIBurst                    int
	ArtifactMaxSize                 int64
	// HelmIndexMaxSize, HelmChartMaxSize and HelmCacheMaxSize are Flux's --helm-index-max-size,
	// --helm-chart-max-size and --helm-cache-max-size (parsed indexes kept in memory).
	HelmIndexMaxSize int64
	HelmChartMaxSize int64
	HelmCacheMaxSize int
	// MinRetryDelay and MaxRetryDelay bound the backoff of failing objects (Flux's flags).
	MinRetryDelay time.Duration
	MaxRetryDelay time.Duration
	// TempDir is where clones are made and artifacts unpacked for builds.
	TempDir string
	// BuildCacheSize is how many Kustomization builds are kept in memory.
	BuildCacheSize int
	// GCPercent is the Go garbage collector's target, GOGC's value (weir's flag): how far
	// the heap grows over the live heap before the next collection. GOGC, when set, wins.
	GCPercent int
	// ReleasePagesInterval is how often the executable's pages mapped but not used since the
	// last release leave the resident set (internal/residency); 0 releases them only once the
	// caches have synced.
	ReleasePagesInterval time.Duration
	// FeatureGates is --feature-gates, Flux's "Name=bool,…"; Gates its parsed value.
	FeatureGates string
	Gates        features.Gates
	// ConcurrentSSA, OverrideManagers and CustomApplyStageKinds configure the Kustomization
	// apply engine as kustomize-controller's flags of the same names.
	ConcurrentSSA         int
	OverrideManagers      []string
	CustomApplyStageKinds []string
	// WatchConfigsLabelSelector, when set, limits the ConfigMaps and Secrets whose changes
	// trigger the Kustomizations and HelmReleases reading them (Flux's flag; weir's default,
	// empty, watches every referenced one).
	WatchConfigsLabelSelector string
	// SopsAgeSecret, SopsVaultConfigMap and DefaultDecryptionServiceAccount are
	// kustomize-controller's flags of the same names (Secret and ConfigMap in the runtime
	// namespace).
	SopsAgeSecret                   string
	SopsVaultConfigMap              string
	DefaultDecryptionServiceAccount string
	// EventsListenAddr is where the events endpoint (Flux notification-controller's, POST /)
	// listens, for events from other emitters.
	EventsListenAddr string
	// RateLimitInterval suppresses an event identical to one dispatched within it (Flux's
	// notification-controller --rate-limit-interval).
	RateLimitInterval time.Duration
	// EventsAddr, when set, is the events endpoint of an external Flux notification-controller
	// that every event is also posted to (Flux's --events-addr).
	EventsAddr string
	// MinInterval raises every interval and retry interval below it (weir's flag).
	MinInterval time.Duration
	// PprofAddr, when set, serves net/http/pprof there (a hidden flag, for profiling).
	PprofAddr string
	// UIAddr, when set, serves the web UI there; UISecureCookies marks its cookies Secure
	// (served behind TLS); UIOIDC* configure sign-in with an OpenID Connect provider (the
	// client secret is read from $WEIR_UI_OIDC_CLIENT_SECRET, never a flag).
	UIAddr                                             string
	UISecureCookies                                    bool
	UIOIDCIssuerURL, UIOIDCClientID, UIOIDCRedirectURL string
	UIOIDCUsernameClaim, UIOIDCGroupsClaim             string
	UIOIDCUsernamePrefix, UIOIDCGroupsPrefix           string
	// AutoShard divides the objects between every replica of AutoShardGroup through one Lease
	// each (weir's flags; the lease timings are leader election's).
	AutoShard      bool
	AutoShardGroup string
}

// DefaultOptions returns the options `weir controller` starts from before flags are parsed.
func DefaultOptions() Options {
	return Options{
		MetricsAddr:          ":8080",
		HealthAddr:           ":9440",
		LeaderElectionID:     "weir-leader-election",
		LeaseDuration:        35 * time.Second,
		RenewDeadline:        30 * time.Second,
		RetryPeriod:          5 * time.Second,
		Concurrent:           10,
		RequeueDependency:    30 * time.Second,
		WatchAllNamespaces:   true,
		StoragePath:          "/data",
		StorageAddr:          ":9090",
		ReceiverAddr:         ":9292",
		EventsListenAddr:     ":9091",
		ConcurrentSSA:        10,
		RateLimitInterval:    5 * time.Minute,
		LogLevel:             "info",
		LogEncoding:          "json",
		Controllers:          ControllerNames(),
		GracefulShutdown:     30 * time.Second,
		TempDir:              os.TempDir(),
		BuildCacheSize:       256,
		GCPercent:            DefaultGCPercent,
		ReleasePagesInterval: DefaultReleasePagesInterval,
		MinRetryDelay:        reconcile.DefaultMinRetryDelay,
		MaxRetryDelay:        reconcile.DefaultMaxRetryDelay,
		MinInterval:          reconcile.DefaultMinInterval,
		// Flux gives each of its five controllers 50 queries per second (burst 300); weir runs
		// them in one process with one client, so it gets their sum.
		KubeAPIQPS:       250,
		KubeAPIBurst:     1500,
		ArtifactMaxSize:  512 << 20,
		HelmIndexMaxSize: 50 << 20,
		HelmChartMaxSize: 10 << 20,
		HelmCacheMaxSize: 8,
		AutoShardGroup:   "weir",
	}
}

// AddFlags binds the options to a flag set.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "path to a kubeconfig; defaults to $KUBECONFIG, the in-cluster config, then ~/.kube/config")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr, "address the Prometheus /metrics endpoint binds to; 0 disables it")
	fs.StringVar(&o.HealthAddr, "health-addr", o.HealthAddr, "address the /healthz and /readyz endpoints bind to")
	fs.BoolVar(&o.EnableLeaderElection, "enable-leader-election", o.EnableLeaderElection, "elect a leader so that only one replica reconciles at a time")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the Lease used for leader election")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration, "how long non-leaders wait before taking over an unrenewed lease")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline, "how long the leader retries renewing its lease before giving it up")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod, "how long clients wait between leader election attempts")
	fs.IntVar(&o.Concurrent, "concurrent", o.Concurrent, "number of concurrent reconciles per controller")
	fs.DurationVar(&o.RequeueDependency, "requeue-dependency", o.RequeueDependency, "fallback interval at which an object waiting on a dependency is retried; dependents are normally triggered at once")
	fs.BoolVar(&o.WatchAllNamespaces, "watch-all-namespaces", o.WatchAllNamespaces, "watch objects in all namespaces; when false only the runtime namespace is watched")
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", o.WatchLabelSelector, "only reconcile objects matching this label selector (sharding)")
	fs.StringVar(&o.StoragePath, "storage-path", o.StoragePath, "directory the artifact store keeps artifacts in")
	fs.StringVar(&o.StorageAddr, "storage-addr", o.StorageAddr, "address the artifact HTTP server binds to")
	fs.StringVar(&o.StorageAdvAddr, "storage-adv-addr", o.StorageAdvAddr, "address advertised in status.artifact.url; defaults to the in-cluster Service name or the storage address")
	fs.StringVar(&o.ReceiverAddr, "receiver-addr", o.ReceiverAddr, "address the webhook receiver binds to")
	fs.IntVar(&o.ConcurrentSSA, "concurrent-ssa", o.ConcurrentSSA, "objects a Kustomization compares and applies at once (Flux's default is 4)")
	fs.StringSliceVar(&o.OverrideManagers, "override-manager", o.OverrideManagers, "field manager whose fields Kustomizations take over, as kubectl's (repeatable)")
	fs.StringVar(&o.WatchConfigsLabelSelector, "watch-configs-label-selector", o.WatchConfigsLabelSelector, "only ConfigMaps and Secrets matching this label selector trigger the Kustomizations, HelmReleases and GitRepositories that read them (Flux's default is reconcile.fluxcd.io/watch=Enabled; weir's, empty, watches every referenced one)")
	fs.StringVar(&o.UIAddr, "ui-addr", o.UIAddr, "address the web UI binds to (e.g. :9080); empty disables it")
	fs.BoolVar(&o.UISecureCookies, "ui-secure-cookies", o.UISecureCookies, "mark the web UI's cookies Secure and send HSTS (when it is served behind TLS)")
	fs.StringVar(&o.UIOIDCIssuerURL, "ui-oidc-issuer-url", o.UIOIDCIssuerURL, "OpenID Connect issuer for web UI sign-in (client secret from $WEIR_UI_OIDC_CLIENT_SECRET)")
	fs.StringVar(&o.UIOIDCClientID, "ui-oidc-client-id", o.UIOIDCClientID, "OpenID Connect client ID of the web UI")
	fs.StringVar(&o.UIOIDCRedirectURL, "ui-oidc-redirect-url", o.UIOIDCRedirectURL, "the web UI's callback URL, https://<host>/auth/oidc/callback")
	fs.StringVar(&o.UIOIDCUsernameClaim, "ui-oidc-username-claim", "email", "ID token claim mapped to the Kubernetes user, as kube-apiserver's --oidc-username-claim")
	fs.StringVar(&o.UIOIDCGroupsClaim, "ui-oidc-groups-claim", "groups", "ID token claim mapped to Kubernetes groups")
	fs.StringVar(&o.UIOIDCUsernamePrefix, "ui-oidc-username-prefix", "", "prefix added to OIDC user names, as kube-apiserver's --oidc-username-prefix")
	fs.StringVar(&o.UIOIDCGroupsPrefix, "ui-oidc-groups-prefix", "", "prefix added to OIDC groups")
	fs.StringVar(&o.SopsAgeSecret, "sops-age-secret", o.SopsAgeSecret, "Secret of the runtime namespace whose .agekey entries decrypt SOPS data of Kustomizations that set a decryption provider but no secretRef")
	fs.StringVar(&o.SopsVaultConfigMap, "sops-vault-configmap", o.SopsVaultConfigMap, "ConfigMap of the runtime namespace whose config.yaml lists the Vault servers (address, loginPath) Kustomizations may log in to with a ServiceAccount token")
	fs.StringVar(&o.DefaultDecryptionServiceAccount, "default-decryption-service-account", o.DefaultDecryptionServiceAccount, "ServiceAccount whose identity decrypts when spec.decryption.serviceAccountName is empty (needs the ObjectLevelWorkloadIdentity gate)")
	fs.StringSliceVar(&o.CustomApplyStageKinds, "custom-apply-stage-kinds", o.CustomApplyStageKinds, "group/Kind applied by Kustomizations in a stage of their own, after the classes and before everything else (repeatable; '/Kind' for the core group)")
	fs.StringVar(&o.EventsListenAddr, "events-listen-addr", o.EventsListenAddr, "address the events endpoint binds to (Flux notification-controller's --events-addr): other emitters POST events there")
	fs.DurationVar(&o.RateLimitInterval, "rate-limit-interval", o.RateLimitInterval, "an event identical to one dispatched within this interval is dropped (429 on the events endpoint); 0 disables")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log verbosity: debug, info, error or trace")
	fs.StringVar(&o.LogEncoding, "log-encoding", o.LogEncoding, "log encoding: json or console")
	fs.BoolVar(&o.NoCrossNamespaceRefs, "no-cross-namespace-refs", o.NoCrossNamespaceRefs, "refuse references to objects in other namespaces")
	fs.BoolVar(&o.NoRemoteBases, "no-remote-bases", o.NoRemoteBases, "refuse kustomize remote bases; every base must be in the source artifact")
	fs.BoolVar(&o.InsecureKubeConfigExec, "insecure-kubeconfig-exec", o.InsecureKubeConfigExec, "allow the kubeconfigs of spec.kubeConfig.secretRef to run exec plugins (commands in the controller's container)")
	fs.BoolVar(&o.InsecureKubeConfigTLS, "insecure-kubeconfig-tls", o.InsecureKubeConfigTLS, "allow the kubeconfigs of spec.kubeConfig.secretRef to disable TLS verification")
	fs.StringVar(&o.DefaultServiceAccount, "default-service-account", o.DefaultServiceAccount, "service account impersonated when an object names none")
	fs.StringVar(&o.DefaultKubeConfigServiceAccount, "default-kubeconfig-service-account", o.DefaultKubeConfigServiceAccount, "service account whose token reaches a remote cluster through spec.kubeConfig.configMapRef when its ConfigMap names none")
	fs.StringSliceVar(&o.Controllers, "controllers", o.Controllers, "controllers to run: "+strings.Join(ControllerNames(), ","))
	fs.DurationVar(&o.GracefulShutdown, "graceful-shutdown-timeout", o.GracefulShutdown, "how long in-flight reconciles may run after SIGTERM")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "queries per second to the Kubernetes API")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "burst of queries to the Kubernetes API")
	fs.Int64Var(&o.ArtifactMaxSize, "artifact-max-size", o.ArtifactMaxSize, "largest artifact, in bytes, a source may store")
	fs.Int64Var(&o.HelmIndexMaxSize, "helm-index-max-size", o.HelmIndexMaxSize, "largest Helm repository index, in bytes")
	fs.Int64Var(&o.HelmChartMaxSize, "helm-chart-max-size", o.HelmChartMaxSize, "largest Helm chart archive, in bytes")
	fs.IntVar(&o.HelmCacheMaxSize, "helm-cache-max-size", o.HelmCacheMaxSize, "parsed Helm repository indexes kept in memory, shared by every chart of a repository (at least 1)")
	fs.StringVar(&o.TempDir, "temp-dir", o.TempDir, "directory where repositories are cloned and artifacts unpacked for builds")
	fs.IntVar(&o.BuildCacheSize, "build-cache-size", o.BuildCacheSize, "how many Kustomization builds are kept in memory, to skip rebuilding identical inputs")
	fs.DurationVar(&o.ReleasePagesInterval, "release-binary-pages-interval", o.ReleasePagesInterval, "how often the pages of weir's executable that were not used since the last time leave the resident set (they stay in the page cache and fault back in when needed); 0 only once at start; WEIR_BINARY_PAGES=keep in the environment turns it off")
	fs.IntVar(&o.GCPercent, "gc-percent", o.GCPercent, "percent the Go heap may grow over the live heap before a garbage collection (Go's GOGC, whose default is 100); lower uses less memory and more CPU; the GOGC environment variable, when set, wins")
	fs.StringVar(&o.FeatureGates, "feature-gates", o.FeatureGates, "Flux's feature gates, Name=true|false separated by commas: "+strings.Join(features.Names(), ", "))
	fs.StringVar(&o.EventsAddr, "events-addr", o.EventsAddr, "URL of a Flux notification-controller's events endpoint to post every event to, as Flux's controllers do (e.g. http://notification-controller.flux-system.svc.cluster.local./)")
	fs.DurationVar(&o.MinRetryDelay, "min-retry-delay", o.MinRetryDelay, "delay before the first retry of a failing object; it doubles with each failure in a row")
	fs.DurationVar(&o.MaxRetryDelay, "max-retry-delay", o.MaxRetryDelay, "longest delay between retries of an object that keeps failing")
	fs.DurationVar(&o.MinInterval, "min-interval", o.MinInterval, "floor under every spec.interval and spec.retryInterval; shorter ones are raised to it")
	fs.BoolVar(&o.AutoShard, "auto-shard", o.AutoShard, "divide the objects between every replica running with it, each holding a Lease in the runtime namespace (sources stay with their consumers; timings from the --leader-election-* flags); incompatible with --enable-leader-election")
	fs.StringVar(&o.AutoShardGroup, "auto-shard-group", o.AutoShardGroup, "the replicas that divide the objects between them: those with the same group (a label value)")
	fs.StringVar(&o.PprofAddr, "pprof-addr", o.PprofAddr, "address net/http/pprof binds to; empty disables it")
	_ = fs.MarkHidden("pprof-addr")
}

// Validate reports the first invalid option.
func (o *Options) Validate() error {
	known := map[string]bool{}
	for _, n := range ControllerNames() {
		known[n] = true
	}
	for _, c := range o.Controllers {
		if !known[c] {
			return fmt.Errorf("unknown controller %q; known: %s", c, strings.Join(ControllerNames(), ","))
		}
	}
	switch o.LogEncoding {
	case "json", "console":
	default:
		return fmt.Errorf("unknown log encoding %q: use json or console", o.LogEncoding)
	}
	switch o.LogLevel {
	case "debug", "info", "error", "trace":
	default:
		return fmt.Errorf("unknown log level %q: use debug, info, error or trace", o.LogLevel)
	}
	if o.MinRetryDelay <= 0 || o.MaxRetryDelay < o.MinRetryDelay {
		return fmt.Errorf("--min-retry-delay %s and --max-retry-delay %s: want 0 < min <= max", o.MinRetryDelay, o.MaxRetryDelay)
	}
	gates, err := features.Parse(o.FeatureGates)
	if err != nil {
		return fmt.Errorf("--feature-gates: %w", err)
	}
	o.Gates = gates
	if _, err := o.StageKinds(); err != nil {
		return err
	}
	if _, err := o.ConfigsSelector(); err != nil {
		return err
	}
	if o.ConcurrentSSA < 1 {
		return fmt.Errorf("--concurrent-ssa %d: want at least 1", o.ConcurrentSSA)
	}
	if o.EventsAddr != "" {
		if u, err := url.Parse(o.EventsAddr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--events-addr %q: want an http or https URL", o.EventsAddr)
		}
	}
	if o.ReleasePagesInterval < 0 {
		return fmt.Errorf("--release-binary-pages-interval %s must not be negative", o.ReleasePagesInterval)
	}
	if o.GCPercent < 1 {
		return fmt.Errorf("--gc-percent %d must be at least 1 (GOGC=off in the environment turns the collector off)", o.GCPercent)
	}
	if o.BuildCacheSize < 0 {
		return fmt.Errorf("--build-cache-size %d must not be negative", o.BuildCacheSize)
	}
	if o.MinInterval < 0 {
		return fmt.Errorf("--min-interval %s must not be negative", o.MinInterval)
	}
	if o.LeaseDuration <= o.RenewDeadline || o.RenewDeadline <= o.RetryPeriod || o.RetryPeriod <= 0 {
		return fmt.Errorf("leader election needs --leader-election-lease-duration (%s) > --leader-election-renew-deadline (%s) > --leader-election-retry-period (%s) > 0",
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
	}
	if o.AutoShard && o.EnableLeaderElection {
		return fmt.Errorf("--auto-shard and --enable-leader-election exclude each other: with automatic sharding every replica reconciles its share, none waits to lead")
	}
	if o.AutoShard {
		if errs := validation.IsValidLabelValue(o.AutoShardGroup); o.AutoShardGroup == "" || len(errs) > 0 {
			return fmt.Errorf("--auto-shard-group %q: want a non-empty label value (%s)", o.AutoShardGroup, strings.Join(errs, "; "))
		}
	}
	if o.uiFlagsIncomplete() {
		return fmt.Errorf("--ui-oidc-client-id and --ui-oidc-redirect-url need --ui-oidc-issuer-url")
	}
	if o.Concurrent < 1 {
		return fmt.Errorf("--concurrent must be at least 1")
	}
	return nil
}

// kubeConfigPolicy is what kubeconfig Secrets may hold, from the --insecure-kubeconfig-* flags.
func (o Options) kubeConfigPolicy() target.KubeConfigPolicy {
	return target.KubeConfigPolicy{AllowExec: o.InsecureKubeConfigExec, AllowInsecureTLS: o.InsecureKubeConfigTLS}
}

// RuntimeNamespace is the namespace weir runs in: $RUNTIME_NAMESPACE (set by the install
// Deployment), else flux-system.
func RuntimeNamespace() string {
	if ns := os.Getenv("RUNTIME_NAMESPACE"); ns != "" {
		return ns
	}
	return "flux-system"
}

// StageKinds parses --custom-apply-stage-kinds: "group/Kind" (the core group as "/Kind" or
// "Kind").
func (o *Options) StageKinds() ([]schema.GroupKind, error) {
	out := make([]schema.GroupKind, 0, len(o.CustomApplyStageKinds))
	for _, s := range o.CustomApplyStageKinds {
		group, kind, ok := strings.Cut(s, "/")
		if !ok {
			group, kind = "", s
		}
		if kind == "" || strings.Contains(kind, "/") {
			return nil, fmt.Errorf("--custom-apply-stage-kinds %q: want group/Kind", s)
		}
		out = append(out, schema.GroupKind{Group: group, Kind: kind})
	}
	return out, nil
}

// ConfigsSelector parses --watch-configs-label-selector; nil when it is empty.
func (o *Options) ConfigsSelector() (labels.Selector, error) {
	if o.WatchConfigsLabelSelector == "" {
		return nil, nil
	}
	sel, err := labels.Parse(o.WatchConfigsLabelSelector)
	if err != nil {
		return nil, fmt.Errorf("--watch-configs-label-selector %q: %w", o.WatchConfigsLabelSelector, err)
	}
	return sel, nil
}
