package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/examples"
)

// seedKustomizations is the number of Kustomizations of seed 001: the root and its eight
// layers.
const seedKustomizations = 9

// runSeed reconciles seed 001's eight-layer hierarchy from its root objects, as `make demo`
// does, and measures the time until all nine Kustomizations are Ready.
func runSeed(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
	files, err := examples.Files("seed001")
	if err != nil {
		return nil, err
	}
	_, url, _, err := c.newRepo("platform", files)
	if err != nil {
		return nil, err
	}
	ns := "flux-system"
	root := kustomization(ns, "flux-system", "flux-system", "./clusters/mycluster-0")
	// The root as the demo and `flux bootstrap` declare it: no wait, no target namespace.
	root.Spec.Wait, root.Spec.TargetNamespace = false, ""
	root.Spec.Interval = metav1.Duration{Duration: 10 * time.Minute}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secrets", Namespace: ns},
			StringData: map[string]string{"api_key_name": "/apps/myapp/api-key"}},
		gitRepository(ns, "flux-system", url),
		root,
	}
	cfg.logf("► creating seed 001's root GitRepository and Kustomization")
	start := time.Now()
	r, err := measureReady(ctx, c, cfg, ns, seedKustomizations, objs, "hierarchy")
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "hierarchy", "seed001", seedKustomizations
	r.Hops = hops(c, ns, start)
	finish(c, &r)
	return []Result{r}, nil
}

// runChain creates depth Kustomizations at once, each depending on the previous one and
// applying one ConfigMap, and measures the time until the last is Ready.
func runChain(ctx context.Context, c *cluster, cfg *config, depth int) ([]Result, error) {
	ns := fmt.Sprintf("chain-%d", depth)
	files := map[string]string{}
	for i := range depth {
		files[fmt.Sprintf("step-%d/configmap.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: step-%d\ndata:\n  step: %q\n", i, fmt.Sprint(i))
	}
	_, url, _, err := c.newRepo(ns, files)
	if err != nil {
		return nil, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := []client.Object{gitRepository(ns, "chain", url)}
	for i := range depth {
		ks := kustomization(ns, fmt.Sprintf("step-%d", i), "chain", fmt.Sprintf("./step-%d", i))
		if i > 0 {
			dependsOn(ks, fmt.Sprintf("step-%d", i-1))
		}
		objs = append(objs, ks)
	}
	cfg.logf("► creating a chain of %d dependent Kustomizations", depth)
	start := time.Now()
	r, err := measureReady(ctx, c, cfg, ns, depth, objs, "chain")
	if err != nil {
		return nil, err
	}
	r.Workload, r.Variant, r.Objects = "hierarchy", "chain", depth
	r.Hops = hops(c, ns, start)
	finish(c, &r)
	return []Result{r}, nil
}
