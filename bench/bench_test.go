package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
)

// TestSmoke runs every workload of the harness end to end at N = 5 on one cluster, so that
// the benchmark cannot rot: a failing workload fails the test.
func TestSmoke(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "weir")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/weir")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build weir: %v\n%s", err, out)
	}
	dir := t.TempDir()
	var log testenv.SyncBuffer
	cfg := &config{
		workloads:      workloads,
		ns:             []int{5},
		monoNs:         []int{5},
		helmNs:         []int{3},
		depth:          3,
		pushes:         2,
		steadyN:        5,
		steadyDuration: 2 * time.Second,
		imageScanTags:  2000,
		concurrent:     4,
		weirBin:        bin,
		resultsDir:     dir,
		docsPath:       filepath.Join(dir, "benchmarks.md"),
		timeout:        90 * time.Second,
		reuse:          true,
		out:            &log,
		log:            &log,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		t.Fatalf("bench: %v\n%s", err, log.String())
	}

	all, err := loadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		workload, variant string
		n                 int
		ok                func(Result) bool
	}{
		{"ttp", "per-app", 5, func(r Result) bool { return r.ReadySeconds > 0 && r.PeakRSSMiB > 0 && r.CPUSeconds >= 0 }},
		{"ttp", "monorepo", 5, func(r Result) bool { return r.ReadySeconds > 0 }},
		{"ttp", "oci", 5, func(r Result) bool { return r.ReadySeconds > 0 && r.Reconciles > 0 }},
		{"push", "oci", 5, func(r Result) bool { return len(r.PushSeconds) == 2 && r.PushMax >= r.PushP50 }},
		{"helm", "repository", 3, func(r Result) bool { return r.ReadySeconds > 0 && r.PeakRSSMiB > 0 }},
		{"helm", "oci", 3, func(r Result) bool { return r.ReadySeconds > 0 }},
		{"hierarchy", "seed001", seedKustomizations, func(r Result) bool { return r.ReadySeconds > 0 && len(r.Hops) == seedKustomizations }},
		{"hierarchy", "chain", 3, func(r Result) bool { return r.ReadySeconds > 0 && len(r.Hops) == 3 }},
		{"push", "single", 1, func(r Result) bool { return len(r.PushSeconds) == 2 && r.PushMax >= r.PushP50 }},
		{"push", "monorepo", 5, func(r Result) bool { return len(r.PushSeconds) == 2 && r.SettleMax > 0 }},
		{"steady", "per-app", 5, func(r Result) bool { return r.SteadySeconds >= 2 && r.SteadyRSSMaxMiB > 0 }},
		{"floor", "kubectl", 5, func(r Result) bool { return r.ApplySeconds > 0 && r.AvailableSeconds >= r.ApplySeconds }},
		{"floor", "client-go", 5, func(r Result) bool { return r.ApplySeconds > 0 && r.AvailableSeconds >= r.ApplySeconds }},
		{"image", "tag to applied", 1, func(r Result) bool { return len(r.PushSeconds) == imageTags && r.PushMax >= r.PushP50 }},
		{"image", "scan", 2000, func(r Result) bool { return r.ReadySeconds > 0 && r.SettleMax > 0 }},
	}
	for _, w := range want {
		found := false
		for _, r := range all[w.workload] {
			if r.Variant == w.variant && r.N == w.n {
				found = true
				if !w.ok(r) {
					t.Errorf("%s/%s N=%d: implausible result %+v", w.workload, w.variant, w.n, r)
				}
			}
		}
		if !found {
			t.Errorf("no result for %s/%s N=%d", w.workload, w.variant, w.n)
		}
	}
	docs, err := os.ReadFile(cfg.docsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{beginMarker, endMarker, "### Time to production", "### Dependency hierarchy", "### Push to applied", "### Steady state", "### Floor", "### Image automation"} {
		if !strings.Contains(string(docs), s) {
			t.Errorf("docs lack %q", s)
		}
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, 0},
		{"one", []float64{3}, 95, 3},
		{"median of twenty", []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 50, 10},
		{"p95 of twenty", []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 95, 19},
		{"max", []float64{1, 5, 2}, 100, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.xs, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(*config) bool
	}{
		{"defaults", nil, false, func(c *config) bool {
			return len(c.workloads) == len(workloads) && len(c.ns) == 3 && c.steadyDuration == 5*time.Minute
		}},
		{"selection", []string{"-workloads", "ttp,floor", "-n", "100, 500"}, false, func(c *config) bool {
			return len(c.workloads) == 2 && c.ns[1] == 500
		}},
		{"unknown workload", []string{"-workloads", "nope"}, true, nil},
		{"bad size", []string{"-n", "0"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags(%v) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if err == nil && !tt.check(cfg) {
				t.Errorf("parseFlags(%v) = %+v", tt.args, cfg)
			}
		})
	}
}

func TestWriteDocsKeepsProse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.md")
	prose := "# Benchmarks\n\nhand-written intro\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n## Analysis\nkept\n"
	if err := os.WriteFile(path, []byte(prose), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Result{Workload: "floor", Variant: "kubectl", N: 5, Objects: 20, ApplySeconds: 1, AvailableSeconds: 2}
	if err := writeDocs(path, map[string][]Result{"floor": {r}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	for _, s := range []string{"hand-written intro", "## Analysis\nkept", "### Floor"} {
		if !strings.Contains(string(got), s) {
			t.Errorf("docs lack %q:\n%s", s, got)
		}
	}
	if strings.Contains(string(got), "\nold\n") {
		t.Errorf("old generated section kept:\n%s", got)
	}
}
