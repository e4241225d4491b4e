package reconcile

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/weirgitops/weir/internal/compat"
)

// Flux's controller metrics, and the per-object gauge that Flux's monitoring setup builds with
// kube-state-metrics, served on the manager's /metrics. Series of a deleted object are removed.
var (
	reconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    compat.ReconcileDurationMetric,
		Help:    "The duration in seconds of a GitOps Toolkit resource reconciliation.",
		Buckets: prometheus.ExponentialBuckets(10e-9, 10, 10),
	}, []string{"kind", "name", "namespace"})
	cacheEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: compat.CacheEventsMetric,
		Help: "The number of cache hits and misses of a GitOps Toolkit resource's reconciliations.",
	}, []string{"event_type", "kind", "name", "namespace"})
	resourceInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: compat.ResourceInfoMetric,
		Help: "The state of a Flux object: 1 per object, with its readiness, suspension and revision as labels.",
	}, []string{"customresource_group", "customresource_version", "customresource_kind", "exported_namespace", "name", "ready", "suspended", "revision"})
)

func init() {
	metrics.Registry.MustRegister(reconcileDuration, cacheEvents, resourceInfo)
}

// Cache event types of gotk_cache_events_total.
const (
	CacheHit  = "cache_hit"
	CacheMiss = "cache_miss"
)

// Resource identifies a Flux object in the metrics.
type Resource struct {
	Group, Version, Kind, Namespace, Name string
}

// RecordDuration observes how long a reconcile of r took.
func RecordDuration(r Resource, d time.Duration) {
	reconcileDuration.WithLabelValues(r.Kind, r.Name, r.Namespace).Observe(d.Seconds())
}

// RecordCacheEvent counts a cache hit or miss (CacheHit, CacheMiss) of a reconcile of r.
func RecordCacheEvent(r Resource, eventType string) {
	cacheEvents.WithLabelValues(eventType, r.Kind, r.Name, r.Namespace).Inc()
}

// infoSeries remembers the label values of each object's gotk_resource_info series, so that
// replacing or deleting it is one exact deletion: a partial match walks every series of the
// vector, which at ten thousand objects was 40 % of weir's CPU.
var infoSeries = struct {
	sync.Mutex
	values map[Resource][]string
}{values: map[Resource][]string{}}

// RecordState sets the gotk_resource_info series of r: ready is the Ready condition's status
// ("True", "False", "Unknown"), revision the last applied or stored revision.
func RecordState(r Resource, ready string, suspended bool, revision string) {
	susp := "false"
	if suspended {
		susp = "true"
	}
	values := []string{r.Group, r.Version, r.Kind, r.Namespace, r.Name, ready, susp, revision}
	infoSeries.Lock()
	defer infoSeries.Unlock()
	if old, ok := infoSeries.values[r]; ok && !slices.Equal(old, values) {
		resourceInfo.DeleteLabelValues(old...)
	}
	infoSeries.values[r] = values
	resourceInfo.WithLabelValues(values...).Set(1)
}

// DeleteMetrics removes every series of r, when the object is gone.
func DeleteMetrics(r Resource) {
	infoSeries.Lock()
	if old, ok := infoSeries.values[r]; ok {
		resourceInfo.DeleteLabelValues(old...)
		delete(infoSeries.values, r)
	}
	infoSeries.Unlock()
	reconcileDuration.DeleteLabelValues(r.Kind, r.Name, r.Namespace)
	for _, t := range []string{CacheHit, CacheMiss} {
		cacheEvents.DeleteLabelValues(t, r.Kind, r.Name, r.Namespace)
	}
}

// ResourceOf names obj, of kind gv/kind, in the metrics.
func ResourceOf(gv schema.GroupVersion, kind string, obj client.Object) Resource {
	return Resource{Group: gv.Group, Version: gv.Version, Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// ReadyStatus returns the status of the Ready condition in list, "Unknown" when it is absent.
func ReadyStatus(list []metav1.Condition) string {
	if c := apimeta.FindStatusCondition(list, compat.ReadyCondition); c != nil {
		return string(c.Status)
	}
	return string(metav1.ConditionUnknown)
}

// ReadyReason returns the reason of the Ready condition in list, "" when it is absent.
func ReadyReason(list []metav1.Condition) string {
	if c := apimeta.FindStatusCondition(list, compat.ReadyCondition); c != nil {
		return c.Reason
	}
	return ""
}
