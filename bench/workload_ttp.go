package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runTTP is time to production after Flux's MTTP benchmark: n applications created at once,
// each its own GitRepository and Kustomization. As in Flux's benchmark every source serves the
// same content and postBuild substitution names each application.
func runTTP(ctx context.Context, c *cluster, cfg *config, n int) ([]Result, error) {
	ns := fmt.Sprintf("ttp-%d", n)
	r, err := perApp(ctx, c, cfg, ns, n, "ttp-"+strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "ttp", "per-app", n*objectsPerApp
	return []Result{r}, nil
}

// perApp creates n applications, each with its own GitRepository, in namespace ns and
// measures them to Ready.
func perApp(ctx context.Context, c *cluster, cfg *config, ns string, n int, profile string) (Result, error) {
	_, url, _, err := c.newRepo(ns+"-app", map[string]string{"app.yaml": appYAML("app-${INDEX}", false, "")})
	if err != nil {
		return Result{}, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return Result{}, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := make([]client.Object, 0, 2*n)
	for i := range n {
		objs = append(objs, gitRepository(ns, appName(i), url))
		ks := kustomization(ns, appName(i), appName(i), "./")
		ks.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"INDEX": strconv.Itoa(i)}}
		objs = append(objs, ks)
	}
	cfg.logf("► creating %d GitRepositories and %d Kustomizations in %s", n, n, ns)
	return measureReady(ctx, c, cfg, ns, n, objs, profile)
}

// runMonorepo is the monorepo case: n Kustomizations (./app-<i>) on one GitRepository, each
// with the four objects of ttp plus the ConfigMap a push changes, measured to Ready and then
// through cfg.pushes pushes that each change one application.
func runMonorepo(ctx context.Context, c *cluster, cfg *config, n int) ([]Result, error) {
	ns := fmt.Sprintf("mono-%d", n)
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("app-%d/app.yaml", i)] = appYAML(appName(i), true, "v0")
	}
	repo, url, _, err := c.newRepo(ns, files)
	if err != nil {
		return nil, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	src := gitRepository(ns, "mono", url)
	objs := []client.Object{src}
	for i := range n {
		objs = append(objs, kustomization(ns, appName(i), "mono", "./"+appName(i)))
	}
	cfg.logf("► creating 1 GitRepository and %d Kustomizations in %s", n, ns)
	ready, err := measureReady(ctx, c, cfg, ns, n, objs, "mono-"+strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	ready.Workload, ready.Variant, ready.Objects = "ttp", "monorepo", n*(objectsPerApp+1)
	out := []Result{ready}
	if cfg.pushes > 0 {
		p := pushSet{ns: ns, n: n, repo: repo, source: src, path: func(i int) string { return fmt.Sprintf("app-%d/app.yaml", i) }}
		push, err := runPushes(ctx, c, cfg, p)
		if err != nil {
			return nil, err
		}
		push.Workload, push.Variant, push.Objects = "push", "monorepo", n*(objectsPerApp+1)
		out = append(out, push)
	}
	for i := range out {
		finish(c, &out[i])
	}
	return out, nil
}

// runSteady creates cfg.steadyN applications, waits until they are Ready and measures weir at
// rest over cfg.steadyDuration.
func runSteady(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
	n := cfg.steadyN
	ns := fmt.Sprintf("steady-%d", n)
	r, err := perApp(ctx, c, cfg, ns, n, "steady-ready")
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "steady", "per-app", n*objectsPerApp
	cfg.logf("► measuring weir at rest for %s", cfg.steadyDuration)
	waitProfile := c.captureProfiles(ctx, cfg.profileDir, "steady", int(min(cfg.steadyDuration, time.Minute).Seconds()))
	s := sample(c.weirPid(), time.Second)
	u0 := c.usage()
	select {
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	case <-time.After(cfg.steadyDuration):
	}
	u1 := c.usage()
	peak, mean := s.Stop()
	cpu, _, _ := u1.since(u0)
	window := u1.at.Sub(u0.at).Seconds()
	r.SteadySeconds = round(window, 1)
	r.SteadyCPUSeconds = cpu
	r.SteadyCPUPercent = round(100*cpu/window, 2)
	r.SteadyRSSMeanMiB, r.SteadyRSSMaxMiB = round(mean, 1), round(peak, 1)
	if err := waitProfile(); err != nil {
		cfg.logf("! profile steady: %v", err)
	}
	if got := c.watch.count(ns, ""); got < n {
		return nil, fmt.Errorf("only %d of %d Kustomizations still Ready after the steady window", got, n)
	}
	finish(c, &r)
	cfg.logf("✔ at rest: %.2f CPU s over %.0f s (%.2f%% of a core), RSS mean %.1f MiB, max %.1f MiB",
		cpu, window, r.SteadyCPUPercent, r.SteadyRSSMeanMiB, r.SteadyRSSMaxMiB)
	return []Result{r}, nil
}
