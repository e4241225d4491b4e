package kustomize

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Phases of a Kustomization reconcile, as the metric's phase label and the event's
// "phases" metadata name them.
const (
	phaseFetch        = "fetch"
	phaseQueue        = "queue"
	phaseDependencies = "dependencies"
	phaseBuild        = "build"
	phaseApply        = "apply"
	phaseHealth       = "health"
)

var (
	phaseSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "weir_reconcile_phase_duration_seconds",
		Help:    "Time a reconcile spent in each phase: fetch, queue, dependencies, build, apply, health.",
		Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"kind", "phase"})
	appliedSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "weir_artifact_to_applied_seconds",
		Help:    "Time from a source artifact being stored to a Kustomization having applied its revision.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(phaseSeconds, appliedSeconds)
}

// phases times the phases of one reconcile.
type phases map[string]time.Duration

// track runs f and records its duration under name.
func (p phases) track(name string, f func()) {
	start := time.Now()
	f()
	p[name] += time.Since(start)
}

// observe exports the phase durations as metrics.
func (p phases) observe() {
	for name, d := range p {
		phaseSeconds.WithLabelValues("Kustomization", name).Observe(d.Seconds())
	}
}

// String renders "apply=12ms build=3ms …" for the event metadata.
func (p phases) String() string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%s", n, p[n].Round(time.Millisecond)))
	}
	return strings.Join(parts, " ")
}
