package reconcile

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestResourceInfoOneSeriesPerObject: a new state replaces the object's series, other objects'
// series stay, and deleting the object removes its series of every metric.
func TestResourceInfoOneSeriesPerObject(t *testing.T) {
	a := Resource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization", Namespace: "metrics-test", Name: "a"}
	b := a
	b.Name = "b"
	before := testutil.CollectAndCount(resourceInfo)
	RecordState(a, "Unknown", false, "")
	RecordState(b, "True", false, "main@sha1:1")
	RecordState(a, "True", false, "main@sha1:1")
	RecordState(a, "True", false, "main@sha1:2")
	RecordState(a, "True", false, "main@sha1:2")
	if got := testutil.CollectAndCount(resourceInfo) - before; got != 2 {
		t.Fatalf("%d gotk_resource_info series for two objects, want 2", got)
	}
	if got := testutil.ToFloat64(resourceInfo.WithLabelValues(a.Group, a.Version, a.Kind, a.Namespace, a.Name, "True", "false", "main@sha1:2")); got != 1 {
		t.Fatalf("a's latest series = %v, want 1", got)
	}
	RecordDuration(a, 1)
	RecordCacheEvent(a, CacheHit)
	DeleteMetrics(a)
	if got := testutil.CollectAndCount(resourceInfo) - before; got != 1 {
		t.Fatalf("%d gotk_resource_info series after deleting a, want b's alone", got)
	}
	for name, c := range map[string]prometheus.Collector{"duration": reconcileDuration, "cache events": cacheEvents, "info": resourceInfo} {
		if n := seriesOf(t, c, a); n != 0 {
			t.Errorf("%d %s series of a left after DeleteMetrics", n, name)
		}
	}
	DeleteMetrics(b)
	if got := testutil.CollectAndCount(resourceInfo) - before; got != 0 {
		t.Fatalf("%d series left after deleting both", got)
	}
}

// seriesOf counts the series of c labelled with r's namespace and name.
func seriesOf(t *testing.T, c prometheus.Collector, r Resource) int {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["name"] == r.Name && (labels["namespace"] == r.Namespace || labels["exported_namespace"] == r.Namespace) {
				n++
			}
		}
	}
	return n
}

// BenchmarkRecordState records the state of one object among ten thousand: its cost must not
// grow with the number of objects (a partial-match deletion walked them all).
func BenchmarkRecordState(b *testing.B) {
	const n = 10000
	rs := make([]Resource, n)
	for i := range rs {
		rs[i] = Resource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization", Namespace: "bench", Name: "app-" + strconv.Itoa(i)}
		RecordState(rs[i], "True", false, "main@sha1:0")
	}
	b.ResetTimer()
	for i := range b.N {
		RecordState(rs[i%n], "True", false, "main@sha1:"+strconv.Itoa(i&1))
	}
	b.StopTimer()
	for _, r := range rs {
		DeleteMetrics(r)
	}
}
