package main

import (
	"context"
	"fmt"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// requestedAtAnnotation is Flux's reconcile request annotation, as a Receiver sets it.
const requestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// pushSet is what runPushes needs of a workload at rest: n Kustomizations of ns on source,
// whose application i lives at path(i) in repo.
type pushSet struct {
	ns     string
	n      int
	repo   *gitserver.Repo
	source *sourcev1.GitRepository
	path   func(i int) string
	// trigger announces the push of head, as a webhook would; nil patches the source's
	// reconcile.fluxcd.io/requestedAt, as a Receiver does.
	trigger func(ctx context.Context, head string) error
}

// runPushSingle measures push to applied on one application in its own repository.
func runPushSingle(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
	ns := "push-single"
	path := func(int) string { return "app/app.yaml" }
	repo, url, _, err := c.newRepo(ns, map[string]string{path(0): appYAML(appName(0), true, "v0")})
	if err != nil {
		return nil, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	src := gitRepository(ns, "app", url)
	if _, err := measureReady(ctx, c, cfg, ns, 1, []client.Object{src, kustomization(ns, appName(0), "app", "./app")}, "push-single"); err != nil {
		return nil, err
	}
	r, err := runPushes(ctx, c, cfg, pushSet{ns: ns, n: 1, repo: repo, source: src, path: path})
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "push", "single", objectsPerApp+1
	finish(c, &r)
	return []Result{r}, nil
}

// runPushes pushes cfg.pushes commits, each changing the ConfigMap of one application, and
// requests a reconcile of the source as a webhook Receiver would. It measures from the request
// until the new value is seen in the cluster, then waits until every Kustomization reports the
// new revision applied (the system at rest again) before the next push.
func runPushes(ctx context.Context, c *cluster, cfg *config, p pushSet) (Result, error) {
	r := Result{N: p.n, Machine: machine(cfg)}
	cfg.logf("► %d pushes to %s", cfg.pushes, p.repo.Name)
	for k := 1; k <= cfg.pushes; k++ {
		// Spread the changed applications over the repository.
		i := (k * 7919) % p.n
		value := fmt.Sprintf("push-%d", k)
		head, err := c.commit(p.repo, fmt.Sprintf("change %s", appName(i)), map[string]string{p.path(i): appYAML(appName(i), true, value)})
		if err != nil {
			return r, err
		}
		start := time.Now()
		if p.trigger != nil {
			if err := p.trigger(ctx, head); err != nil {
				return r, fmt.Errorf("push %d: %w", k, err)
			}
		} else {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, requestedAtAnnotation, start.Format(time.RFC3339Nano))
			if err := c.client.Patch(ctx, p.source.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				return r, fmt.Errorf("request reconcile of %s: %w", p.source.Name, err)
			}
		}
		cm := types.NamespacedName{Namespace: p.ns, Name: appName(i) + "-config"}
		applied, err := c.watch.until(ctx, cfg.timeout,
			func(v view) bool { return v.configValue(cm, "value") == value },
			func(v view) string {
				return fmt.Sprintf("ConfigMap %s has value %q, want %q", cm, v.configValue(cm, "value"), value)
			})
		if err != nil {
			return r, fmt.Errorf("push %d: %w", k, err)
		}
		rev := "main@sha1:" + head
		settled, err := c.watch.until(ctx, cfg.timeout,
			func(v view) bool { return v.readyIn(p.ns, rev) >= p.n },
			func(v view) string {
				return fmt.Sprintf("%d/%d Kustomizations Ready at %s; behind: %s", v.readyIn(p.ns, rev), p.n, rev, v.notReady(p.ns, rev))
			})
		if err != nil {
			return r, fmt.Errorf("push %d: settle: %w", k, err)
		}
		r.PushSeconds = append(r.PushSeconds, seconds(applied.Sub(start)))
		r.SettleSeconds = append(r.SettleSeconds, seconds(settled.Sub(start)))
		cfg.logf("  push %2d: %s applied in %.3f s, all %d Kustomizations at the new revision in %.3f s",
			k, appName(i), applied.Sub(start).Seconds(), p.n, settled.Sub(start).Seconds())
	}
	r.PushP50, r.PushP95, r.PushMax = percentile(r.PushSeconds, 50), percentile(r.PushSeconds, 95), percentile(r.PushSeconds, 100)
	r.SettleP50, r.SettleMax = percentile(r.SettleSeconds, 50), percentile(r.SettleSeconds, 100)
	return r, nil
}
