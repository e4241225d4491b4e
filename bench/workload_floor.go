package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
)

// runFloor applies the objects of n ttp applications with one `kubectl apply --server-side` of
// a single file: the API server's own limit on this machine for what weir does in ttp. It then
// waits until every Deployment is Available, the health part of weir's work.
func runFloor(ctx context.Context, c *cluster, cfg *config, n int) ([]Result, error) {
	ns := fmt.Sprintf("floor-%d", n)
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	docs := make([]string, 0, n)
	for i := range n {
		docs = append(docs, appYAML(appName(i), false, ""))
	}
	file := filepath.Join(c.work, ns+".yaml")
	if err := os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		return nil, err
	}
	r := Result{Workload: "floor", Variant: "kubectl", N: n, Objects: n * objectsPerApp, Machine: machine(cfg)}
	kubectl := func(args ...string) error {
		ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, testenv.Kubectl(), append([]string{"--kubeconfig", c.env.Kubeconfig, "-n", ns}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("kubectl %s: %w: %s", args[0], err, tail(string(out), 400))
		}
		return nil
	}
	cfg.logf("► kubectl apply --server-side of %d objects", r.Objects)
	u0 := c.usage()
	start := time.Now()
	if err := kubectl("apply", "--server-side", "--field-manager", "bench", "-f", file); err != nil {
		return nil, err
	}
	r.ApplySeconds = seconds(time.Since(start))
	if err := kubectl("wait", "--for=condition=Available", "deployment", "--all", "--timeout="+cfg.timeout.String()); err != nil {
		return nil, err
	}
	r.AvailableSeconds = seconds(time.Since(start))
	u1 := c.usage()
	_, r.GitServerCPUSeconds, r.ControlPlaneCPUSeconds = u1.since(u0)
	cfg.logf("✔ applied in %.2f s, all Deployments Available after %.2f s", r.ApplySeconds, r.AvailableSeconds)
	return []Result{r}, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
