package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"golang.org/x/sync/errgroup"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

// floorProcesses is how many appliers run at once in the floor workload: as many as weir's
// default workers, so that both apply the same objects with the same concurrency.
const floorProcesses = 10

// The floor's variants: how the objects are applied.
const (
	// floorKubectl runs floorProcesses `kubectl apply --server-side` at once, one file each:
	// the floor as issue 21 defines it. kubectl's own CPU (discovery, OpenAPI validation)
	// shares the machine with the API server.
	floorKubectl = "kubectl"
	// floorClient applies with the harness's own client: floorProcesses goroutines, one
	// server-side apply request per object and nothing else, the API server's limit for these
	// objects on this machine.
	floorClient = "client-go"
)

// runFloor applies the objects of n ttp applications the way weir applies them: server-side
// apply, floorProcesses at a time, the applications dealt round-robin and each one's objects
// in weir's order (ServiceAccount, Service, Deployment, Ingress). It then waits until every
// Deployment is Available, the health part of weir's work. That is the API server's and
// kube-controller-manager's own limit on this machine for what weir does in ttp.
func runFloor(ctx context.Context, c *cluster, cfg *config, n int, variant string) ([]Result, error) {
	ns := fmt.Sprintf("floor-%s-%d", variant, n)
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	procs := min(floorProcesses, n)
	docs := make([][]string, procs)
	for i := range n {
		docs[i%procs] = append(docs[i%procs], appYAML(appName(i), false, ""))
	}
	r := Result{Workload: "floor", Variant: variant, N: n, Objects: n * objectsPerApp, Machine: machine(cfg)}
	apply, err := floorApplier(c, cfg, ns, variant, docs)
	if err != nil {
		return nil, err
	}
	// Availability is watched, as weir's health checks watch it: `kubectl wait` would wait on
	// one Deployment after the other.
	available, err := watchAvailable(ctx, c, ns)
	if err != nil {
		return nil, err
	}
	defer available.stop()
	cfg.logf("► %d × %s server-side apply of %d objects in all", procs, variant, r.Objects)
	u0 := c.usage()
	start := time.Now()
	var g errgroup.Group
	for p := range procs {
		g.Go(func() error { return apply(ctx, p) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.ApplySeconds = seconds(time.Since(start))
	if err := available.wait(ctx, n, cfg.timeout); err != nil {
		return nil, err
	}
	// The floor is done when both the applies returned and every Deployment is Available.
	r.AvailableSeconds = max(r.ApplySeconds, seconds(available.last.Sub(start)))
	u1 := c.usage()
	_, r.GitServerCPUSeconds, r.ControlPlaneCPUSeconds = u1.since(u0)
	cfg.logf("✔ applied in %.2f s, all Deployments Available after %.2f s (%s: %.1f CPU s)", r.ApplySeconds, r.AvailableSeconds, variant, r.GitServerCPUSeconds)
	return []Result{r}, nil
}

// floorApplier returns the function that applies docs[p], the objects of applier p.
func floorApplier(c *cluster, cfg *config, ns, variant string, docs [][]string) (func(ctx context.Context, p int) error, error) {
	switch variant {
	case floorKubectl:
		files := make([]string, len(docs))
		for p := range docs {
			files[p] = filepath.Join(c.work, fmt.Sprintf("%s-%d.yaml", ns, p))
			if err := os.WriteFile(files[p], []byte(strings.Join(docs[p], "---\n")), 0o644); err != nil {
				return nil, err
			}
		}
		return func(ctx context.Context, p int) error {
			ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, testenv.Kubectl(), "--kubeconfig", c.env.Kubeconfig, "-n", ns,
				"apply", "--server-side", "--field-manager", "bench", "-f", files[p])
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("kubectl apply: %w: %s", err, tail(string(out), 400))
			}
			return nil
		}, nil
	case floorClient:
		objs := make([][]*unstructured.Unstructured, len(docs))
		for p, list := range docs {
			for _, doc := range list {
				var app []*unstructured.Unstructured
				for part := range strings.SplitSeq(doc, "---\n") {
					u := &unstructured.Unstructured{}
					if err := yaml.Unmarshal([]byte(part), &u.Object); err != nil {
						return nil, fmt.Errorf("decode floor object: %w", err)
					}
					u.SetNamespace(ns)
					app = append(app, u)
				}
				slices.SortStableFunc(app, func(a, b *unstructured.Unstructured) int {
					return floorKindOrder[a.GetKind()] - floorKindOrder[b.GetKind()]
				})
				objs[p] = append(objs[p], app...)
			}
		}
		return func(ctx context.Context, p int) error {
			for _, u := range objs[p] {
				if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bench"), client.ForceOwnership); err != nil {
					return fmt.Errorf("apply %s/%s: %w", u.GetKind(), u.GetName(), err)
				}
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("unknown floor variant %q", variant)
}

// floorKindOrder is weir's apply order of the application's kinds (internal/apply).
var floorKindOrder = map[string]int{"ServiceAccount": 0, "Service": 1, "Deployment": 2, "Ingress": 3}

// availability counts the Available Deployments of one namespace from a watch, and notes when
// the last one turned Available.
type availability struct {
	mu      sync.Mutex
	ready   map[string]bool
	last    time.Time
	changed chan struct{}
	stop    context.CancelFunc
}

func watchAvailable(ctx context.Context, c *cluster, ns string) (*availability, error) {
	ca, err := cache.New(c.env.Config, cache.Options{
		Scheme:            manager.NewScheme(),
		DefaultNamespaces: map[string]cache.Config{ns: {}},
	})
	if err != nil {
		return nil, fmt.Errorf("create deployment watch: %w", err)
	}
	a := &availability{ready: map[string]bool{}, changed: make(chan struct{}, 1)}
	inf, err := ca.GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		return nil, fmt.Errorf("watch deployments: %w", err)
	}
	set := func(o any) {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			return
		}
		avail := false
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
				avail = d.Status.ObservedGeneration == d.Generation
			}
		}
		a.mu.Lock()
		if avail && !a.ready[d.Name] {
			a.last = time.Now()
		}
		a.ready[d.Name] = avail
		a.mu.Unlock()
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, o any) { set(o) },
	}); err != nil {
		return nil, fmt.Errorf("watch deployments: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	go func() { _ = ca.Start(wctx) }()
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if !ca.WaitForCacheSync(sctx) {
		cancel()
		return nil, errors.New("deployment watch did not sync")
	}
	return a, nil
}

// wait returns once n Deployments are Available.
func (a *availability) wait(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		got := 0
		for _, ok := range a.ready {
			if ok {
				got++
			}
		}
		a.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-a.changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("only %d of %d Deployments Available after %s", got, n, timeout)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
