package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// profileSeconds is the length of the CPU profile taken from creation on, with -profile.
const profileSeconds = 30

// measureReady creates objs at once and waits until n Kustomizations of ns are Ready,
// measuring the time, weir's CPU and memory, and the CPU of everything else on the machine
// the harness started.
func measureReady(ctx context.Context, c *cluster, cfg *config, ns string, n int, objs []client.Object, profile string) (Result, error) {
	r := Result{N: n, Machine: machine(cfg)}
	waitProfile := c.captureProfiles(ctx, cfg.profileDir, profile, profileSeconds)
	s := sample(c.weirPid(), 100*time.Millisecond)
	defer s.Stop()
	u0 := c.usage()
	a0, err := c.apiCounts(ctx)
	if err != nil {
		return r, err
	}
	start := time.Now()
	stopProgress := progress(cfg, c, ns, n, start)
	defer stopProgress()
	if err := c.createAll(ctx, objs); err != nil {
		return r, err
	}
	r.CreateSeconds = seconds(time.Since(start))
	at, err := c.watch.until(ctx, cfg.timeout,
		func(v view) bool { return v.readyIn(ns, "") >= n },
		func(v view) string {
			return fmt.Sprintf("%d/%d Kustomizations Ready; not Ready: %s", v.readyIn(ns, ""), n, v.notReady(ns, ""))
		})
	if err != nil {
		return r, err
	}
	u1 := c.usage()
	a1, err := c.apiCounts(ctx)
	if err != nil {
		return r, err
	}
	r.APIRequests, r.Reconciles = int64(a1.requests-a0.requests), int64(a1.reconciles-a0.reconciles)
	r.PeakAnonMiB, r.PeakFileMiB = round(s.PeakAnon(), 1), round(s.PeakFile(), 1)
	r.ReadySeconds = seconds(at.Sub(start))
	r.CPUSeconds, r.GitServerCPUSeconds, r.ControlPlaneCPUSeconds = u1.since(u0)
	if pid := c.weirPid(); pid > 0 {
		rss, hwm, err := memory(pid)
		if err != nil {
			return r, err
		}
		r.RSSAtReadyMiB, r.PeakRSSMiB = round(rss, 1), round(hwm, 1)
	}
	if err := waitProfile(); err != nil {
		cfg.logf("! profile %s: %v", profile, err)
	}
	cfg.logf("✔ %d Kustomizations Ready in %.2f s (objects created in %.2f s), weir CPU %.1f s, peak RSS %.1f MiB (anonymous %.1f MiB, binary %.1f MiB), %d API requests in %d reconciles",
		n, r.ReadySeconds, r.CreateSeconds, r.CPUSeconds, r.PeakRSSMiB, r.PeakAnonMiB, r.PeakFileMiB, r.APIRequests, r.Reconciles)
	return r, nil
}

// progress logs how many Kustomizations of ns are Ready every ten seconds until stopped.
func progress(cfg *config, c *cluster, ns string, n int, start time.Time) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cfg.logf("  … %d/%d Ready after %s", c.watch.count(ns, ""), n, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done) }
}

// finish completes r with weir's peak memory over the whole run.
func finish(c *cluster, r *Result) {
	if pid := c.weirPid(); pid > 0 {
		if _, hwm, err := memory(pid); err == nil {
			r.PeakRSSMiB = round(hwm, 1)
		}
	}
}

// hops returns when each Kustomization of ns first turned Ready, from start, in order.
func hops(c *cluster, ns string, start time.Time) []Hop {
	var out []Hop
	for name, t := range c.watch.firstReady(ns) {
		out = append(out, Hop{Name: name, Seconds: seconds(t.Sub(start))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seconds < out[j].Seconds })
	return out
}
