package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
)

// Machine describes where and on what a result was measured.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpuModel"`
	Kubernetes string `json:"kubernetes"`
	Weir       string `json:"weirCommit"`
	Go         string `json:"go"`
	Date       string `json:"date"`
	Concurrent int    `json:"concurrent"`
	// LoadAverage is the machine's one-minute load when the result was taken: other work on a
	// shared machine shows here.
	LoadAverage float64 `json:"loadAverage"`
	// WeirArgs are extra flags weir ran with (-weir-args), when any.
	WeirArgs []string `json:"weirArgs,omitempty"`
	// BinaryMiB is the size of the weir executable measured.
	BinaryMiB float64 `json:"binaryMiB,omitempty"`
}

// Result is one measured run of a workload at one size. Fields that do not apply to the
// workload are left out of the JSON.
type Result struct {
	Workload string  `json:"workload"`
	Variant  string  `json:"variant"`
	N        int     `json:"n"`
	Objects  int     `json:"objects,omitempty"`
	Machine  Machine `json:"machine"`

	// CreateSeconds is how long the harness took to create the objects; ReadySeconds runs
	// from the first creation to the last Kustomization Ready.
	CreateSeconds float64 `json:"createSeconds,omitempty"`
	ReadySeconds  float64 `json:"readySeconds,omitempty"`
	// PeakRSSMiB is weir's VmHWM at the end of the run (the process started with the run);
	// RSSAtReadyMiB its VmRSS when everything was Ready.
	PeakRSSMiB    float64 `json:"peakRSSMiB,omitempty"`
	RSSAtReadyMiB float64 `json:"rssAtReadyMiB,omitempty"`
	// RSSBeforeMiB is weir's VmRSS before the objects were created (the imagescan workload).
	RSSBeforeMiB float64 `json:"rssBeforeMiB,omitempty"`
	// PeakAnonMiB is the largest RssAnon sampled (every 100 ms) from creation to Ready: weir's
	// heap, stacks and private memory, without the pages of its mapped binary.
	PeakAnonMiB float64 `json:"peakAnonMiB,omitempty"`
	// PeakFileMiB is the largest RssFile sampled over the same window: the pages of weir's
	// executable mapped into its resident set (shared page cache, not weir's heap).
	PeakFileMiB float64 `json:"peakFileMiB,omitempty"`
	// CPUSeconds is weir's user+system CPU time from creation to Ready; GitServerCPUSeconds
	// that of the harness's children (git http-backend, kubectl); ControlPlaneCPUSeconds that
	// of etcd, kube-apiserver and kube-controller-manager over the same window.
	CPUSeconds             float64            `json:"cpuSeconds,omitempty"`
	GitServerCPUSeconds    float64            `json:"gitServerCPUSeconds,omitempty"`
	ControlPlaneCPUSeconds map[string]float64 `json:"controlPlaneCPUSeconds,omitempty"`
	// APIRequests are the requests weir sent to the API server from creation to Ready, and
	// Reconciles the Kustomization reconciles over the same window (weir's own metrics).
	APIRequests int64 `json:"apiRequests,omitempty"`
	Reconciles  int64 `json:"reconciles,omitempty"`

	// Hops lists when each Kustomization of a hierarchy turned Ready, in seconds from creation.
	Hops []Hop `json:"hops,omitempty"`

	// PushSeconds are the push-to-applied latencies; SettleSeconds how long each push took
	// until every Kustomization reported the new revision applied.
	PushSeconds   []float64 `json:"pushSeconds,omitempty"`
	PushP50       float64   `json:"pushP50,omitempty"`
	PushP95       float64   `json:"pushP95,omitempty"`
	PushMax       float64   `json:"pushMax,omitempty"`
	SettleSeconds []float64 `json:"settleSeconds,omitempty"`
	SettleP50     float64   `json:"settleP50,omitempty"`
	SettleMax     float64   `json:"settleMax,omitempty"`

	// Steady state: the window, weir's CPU over it, and its resident set.
	SteadySeconds    float64 `json:"steadySeconds,omitempty"`
	SteadyCPUSeconds float64 `json:"steadyCPUSeconds,omitempty"`
	SteadyCPUPercent float64 `json:"steadyCPUPercent,omitempty"`
	SteadyRSSMeanMiB float64 `json:"steadyRSSMeanMiB,omitempty"`
	SteadyRSSMaxMiB  float64 `json:"steadyRSSMaxMiB,omitempty"`

	// EventsPerSecond is the alert workload's dispatch rate to the provider.
	EventsPerSecond float64 `json:"eventsPerSecond,omitempty"`

	// Floor: one `kubectl apply --server-side` of every object, and the same until every
	// Deployment is Available.
	ApplySeconds     float64 `json:"applySeconds,omitempty"`
	AvailableSeconds float64 `json:"availableSeconds,omitempty"`
}

// Hop is one Kustomization of a hierarchy and when it turned Ready.
type Hop struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// resultFile is the content of bench/results/<workload>.json.
type resultFile struct {
	Workload string   `json:"workload"`
	Results  []Result `json:"results"`
}

// save merges r into <dir>/<workload>.json, replacing an earlier result of the same variant
// and size.
func save(dir string, r Result) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, r.Workload+".json")
	f := resultFile{Workload: r.Workload}
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	kept := f.Results[:0]
	for _, old := range f.Results {
		if old.Variant != r.Variant || old.N != r.N {
			kept = append(kept, old)
		}
	}
	f.Results = append(kept, r)
	sort.SliceStable(f.Results, func(i, j int) bool {
		if f.Results[i].Variant != f.Results[j].Variant {
			return f.Results[i].Variant < f.Results[j].Variant
		}
		return f.Results[i].N < f.Results[j].N
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// loadAll reads every <dir>/*.json result file, by workload.
func loadAll(dir string) (map[string][]Result, error) {
	out := map[string][]Result{}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var f resultFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		out[f.Workload] = append(out[f.Workload], f.Results...)
	}
	return out, nil
}

// machine describes this machine and the weir binary being measured.
func machine(cfg *config) Machine {
	concurrent, weirArgs := cfg.concurrent, cfg.weirArgs
	m := Machine{
		CPUs:       runtime.NumCPU(),
		Kubernetes: testenv.KubernetesVersion,
		Go:         runtime.Version(),
		Date:       time.Now().UTC().Format(time.RFC3339),
		Concurrent: concurrent,
		Weir:       "unknown",
		WeirArgs:   weirArgs,
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			m.LoadAverage, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if st, err := os.Stat(cfg.weirBin); err == nil {
		m.BinaryMiB = round(float64(st.Size())/(1<<20), 1)
	}
	// The binary's own version, not the checkout's HEAD: the binary may be older.
	if out, err := exec.Command(cfg.weirBin, "version", "--client", "-o", "json").Output(); err == nil {
		var v struct {
			Weir string `json:"weir"`
		}
		if json.Unmarshal(out, &v) == nil && v.Weir != "" {
			m.Weir = v.Weir
		}
	}
	return m
}

// percentile returns the p-th percentile (0–100) of xs by the nearest-rank method.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func seconds(d time.Duration) float64 { return round(d.Seconds(), 3) }
