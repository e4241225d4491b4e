// Command bench is weir's benchmark harness. It starts a local control plane (etcd,
// kube-apiserver and kube-controller-manager from internal/testenv), a local Git server and
// `weir controller` as a separate process, runs the selected workloads (time to production,
// dependency hierarchies, push to applied, steady state and the kubectl floor), and prints one
// markdown table per workload. Raw numbers go to bench/results/<workload>.json and the tables,
// beside Flux's published figures, to docs/benchmarks.md. `make bench` runs it; see
// bench/README.md for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// workloads lists every workload in the order a full run takes them.
var workloads = []string{"hierarchy", "chain", "push", "webhook", "alerts", "ttp", "oci", "helm", "monorepo", "floor", "steady", "image", "imagescan"}

// config is one invocation of the harness.
type config struct {
	workloads      []string
	ns             []int         // sizes of the time-to-production and floor workloads
	monoNs         []int         // sizes of the monorepo workload
	helmNs         []int         // sizes of the helm workload
	depth          int           // length of the synthetic dependency chain
	pushes         int           // pushes per push-to-applied measurement
	alertEvents    int           // events posted in the alerts workload
	steadyN        int           // applications at rest for the steady-state workload
	steadyDuration time.Duration // steady-state window
	imageScanTags  int           // tags of the repository the imagescan workload scans
	concurrent     int           // weir --concurrent
	weirArgs       []string      // extra flags for weir controller
	weirBin        string
	resultsDir     string // where <workload>.json go; empty writes none
	docsPath       string // the markdown file to update; empty writes none
	profileDir     string // when set, CPU and heap profiles of weir are saved there
	timeout        time.Duration
	reuse          bool // one cluster for every workload (the smoke test), not one per run
	renderOnly     bool // run nothing: rebuild the docs' generated section from the saved results
	out            io.Writer
	log            io.Writer
}

func (c *config) logf(format string, args ...any) {
	fmt.Fprintf(c.log, format+"\n", args...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// The harness's watches log nothing worth reading; keep controller-runtime quiet.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "✗ bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := &config{out: os.Stdout, log: os.Stderr}
	wl := fs.String("workloads", strings.Join(workloads, ","), "comma-separated workloads to run: "+strings.Join(workloads, ", "))
	ns := fs.String("n", "100,500,1000", "applications for the ttp, oci and floor workloads")
	monoNs := fs.String("mono-n", "100,500", "Kustomizations on one GitRepository for the monorepo workload")
	helmNs := fs.String("helm-n", "100,500", "HelmReleases for the helm workload")
	fs.IntVar(&cfg.depth, "depth", 20, "length of the synthetic dependency chain")
	fs.IntVar(&cfg.pushes, "pushes", 20, "pushes per push-to-applied measurement")
	fs.IntVar(&cfg.alertEvents, "alert-events", 5000, "events posted in the alerts workload")
	fs.IntVar(&cfg.steadyN, "steady-n", 500, "applications at rest for the steady workload")
	fs.DurationVar(&cfg.steadyDuration, "steady-duration", 5*time.Minute, "steady-state measurement window")
	fs.IntVar(&cfg.imageScanTags, "image-scan-tags", 10000, "tags of the repository the imagescan workload scans")
	fs.IntVar(&cfg.concurrent, "concurrent", 10, "weir controller --concurrent")
	fs.StringVar(&cfg.weirBin, "weir", "bin/weir", "path of the weir binary")
	weirArgs := fs.String("weir-args", "", "extra space-separated flags for weir controller, e.g. \"--kube-api-qps=500 --kube-api-burst=1000\"")
	fs.StringVar(&cfg.resultsDir, "results", "bench/results", "directory for the raw JSON results; empty writes none")
	fs.StringVar(&cfg.docsPath, "docs", "docs/benchmarks.md", "markdown file whose generated section is rewritten; empty writes none")
	fs.StringVar(&cfg.profileDir, "profile", "", "save CPU and heap profiles of weir (via --pprof-addr) to this directory")
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "deadline of each wait within a workload")
	fs.BoolVar(&cfg.renderOnly, "render-only", false, "run no workload: rebuild the generated section of -docs from the results saved in -results")
	fs.BoolVar(&cfg.reuse, "reuse", false, "run every workload on one cluster and one weir process (faster, but resource figures mix)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg.weirArgs = strings.Fields(*weirArgs)
	var err error
	if cfg.workloads, err = parseWorkloads(*wl); err != nil {
		return nil, err
	}
	if cfg.ns, err = parseInts(*ns); err != nil {
		return nil, fmt.Errorf("-n: %w", err)
	}
	if cfg.monoNs, err = parseInts(*monoNs); err != nil {
		return nil, fmt.Errorf("-mono-n: %w", err)
	}
	if cfg.helmNs, err = parseInts(*helmNs); err != nil {
		return nil, fmt.Errorf("-helm-n: %w", err)
	}
	if cfg.depth < 1 || cfg.pushes < 0 || cfg.steadyN < 1 || cfg.concurrent < 1 {
		return nil, errors.New("-depth, -steady-n and -concurrent must be positive, -pushes not negative")
	}
	return cfg, nil
}

func parseWorkloads(s string) ([]string, error) {
	var out []string
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if w == "all" {
			return workloads, nil
		}
		if !slices.Contains(workloads, w) {
			return nil, fmt.Errorf("unknown workload %q: use %s", w, strings.Join(workloads, ", "))
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, errors.New("no workload selected")
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// job is one workload at one size: it runs on a cluster and returns its results.
type job struct {
	name   string
	noWeir bool
	run    func(ctx context.Context, c *cluster, cfg *config) ([]Result, error)
}

func jobs(cfg *config) []job {
	var out []job
	for _, w := range workloads {
		if !slices.Contains(cfg.workloads, w) {
			continue
		}
		switch w {
		case "hierarchy":
			out = append(out, job{name: "hierarchy seed001", run: runSeed})
		case "chain":
			out = append(out, job{name: fmt.Sprintf("chain depth %d", cfg.depth), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
				return runChain(ctx, c, cfg, cfg.depth)
			}})
		case "push":
			out = append(out, job{name: "push single app", run: runPushSingle})
		case "webhook":
			out = append(out, job{name: "webhook push single app", run: runWebhook})
		case "alerts":
			out = append(out, job{name: fmt.Sprintf("alerts %d events", cfg.alertEvents), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
				return runAlerts(ctx, c, cfg, cfg.alertEvents)
			}})
		case "ttp":
			for _, n := range cfg.ns {
				out = append(out, job{name: fmt.Sprintf("ttp N=%d", n), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
					return runTTP(ctx, c, cfg, n)
				}})
			}
		case "oci":
			for _, n := range cfg.ns {
				out = append(out, job{name: fmt.Sprintf("oci N=%d", n), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
					return runOCI(ctx, c, cfg, n)
				}})
			}
		case "helm":
			for _, n := range cfg.helmNs {
				for _, variant := range []string{"repository", "oci"} {
					out = append(out, job{name: fmt.Sprintf("helm %s N=%d", variant, n), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
						return runHelm(ctx, c, cfg, n, variant)
					}})
				}
			}
		case "monorepo":
			for _, n := range cfg.monoNs {
				out = append(out, job{name: fmt.Sprintf("monorepo N=%d", n), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
					return runMonorepo(ctx, c, cfg, n)
				}})
			}
		case "floor":
			for _, n := range cfg.ns {
				for _, variant := range []string{floorKubectl, floorClient} {
					out = append(out, job{name: fmt.Sprintf("floor %s N=%d", variant, n), noWeir: true, run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
						return runFloor(ctx, c, cfg, n, variant)
					}})
				}
			}
		case "steady":
			out = append(out, job{name: fmt.Sprintf("steady N=%d for %s", cfg.steadyN, cfg.steadyDuration), run: runSteady})
		case "image":
			out = append(out, job{name: fmt.Sprintf("image tag to applied, %d tags", imageTags), run: runImage})
		case "imagescan":
			out = append(out, job{name: fmt.Sprintf("image scan of %d tags", cfg.imageScanTags), run: func(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
				return runImageScan(ctx, c, cfg, cfg.imageScanTags)
			}})
		}
	}
	return out
}

// run runs every selected job, each on a fresh cluster unless cfg.reuse, saves and prints the
// results, and fails on the first failed job.
func run(ctx context.Context, cfg *config) error {
	var shared *cluster
	defer func() {
		if shared != nil {
			shared.Close()
		}
	}()
	var todo []job
	if !cfg.renderOnly {
		todo = jobs(cfg)
	}
	for _, j := range todo {
		cfg.logf("━━ %s", j.name)
		c := shared
		if c == nil {
			var err error
			if c, err = startCluster(ctx, cfg, j.noWeir && !cfg.reuse); err != nil {
				return fmt.Errorf("%s: %w", j.name, err)
			}
			if cfg.reuse {
				shared = c
			}
		}
		rs, err := j.run(ctx, c, cfg)
		if err != nil {
			if tail := c.logTail(20); tail != "" {
				cfg.logf("weir log (last lines):\n%s", tail)
			}
		}
		if cfg.profileDir != "" {
			c.keepLog(filepath.Join(cfg.profileDir, strings.NewReplacer(" ", "-", "=", "").Replace(j.name)+".log"))
		}
		if c != shared {
			c.Close()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", j.name, err)
		}
		for _, r := range rs {
			if err := save(cfg.resultsDir, r); err != nil {
				return err
			}
		}
		fmt.Fprint(cfg.out, renderResults(groupResults(rs), nil))
	}
	if cfg.docsPath != "" && cfg.resultsDir != "" {
		saved, err := loadAll(cfg.resultsDir)
		if err != nil {
			return err
		}
		if err := writeDocs(cfg.docsPath, saved); err != nil {
			return err
		}
		cfg.logf("✔ wrote %s and %s/*.json", cfg.docsPath, cfg.resultsDir)
	}
	return nil
}

func groupResults(rs []Result) map[string][]Result {
	out := map[string][]Result{}
	for _, r := range rs {
		out[r.Workload] = append(out[r.Workload], r)
	}
	return out
}
