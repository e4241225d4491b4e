package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/source/oci"
)

// runOCI is time to production with OCI artifacts ("gitless"): n applications, each its own
// artifact in a local registry (go-containerregistry's, in this process), OCIRepository and
// Kustomization; then cfg.pushes new pushes of one application's tag, each measured from the
// reconcile request (a Receiver's) to the changed value in the cluster.
func runOCI(ctx context.Context, c *cluster, cfg *config, n int) ([]Result, error) {
	ns := fmt.Sprintf("oci-%d", n)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg.logf("► pushing %d artifacts to %s", n, host)
	for i := range n {
		if _, err := pushApp(ctx, host, i, "v0"); err != nil {
			return nil, err
		}
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := make([]client.Object, 0, 2*n)
	for i := range n {
		objs = append(objs, ociRepository(ns, appName(i), "oci://"+host+"/apps/"+appName(i)))
		ks := kustomization(ns, appName(i), appName(i), "./")
		ks.Spec.SourceRef.Kind = sourcev1.OCIRepositoryKind
		objs = append(objs, ks)
	}
	cfg.logf("► creating %d OCIRepositories and %d Kustomizations in %s", n, n, ns)
	ready, err := measureReady(ctx, c, cfg, ns, n, objs, "oci-"+strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	ready.Workload, ready.Variant, ready.Objects = "ttp", "oci", n*(objectsPerApp+1)
	out := []Result{ready}
	if cfg.pushes > 0 {
		push := Result{N: n, Machine: machine(cfg), Workload: "push", Variant: "oci", Objects: n * (objectsPerApp + 1)}
		cfg.logf("► %d pushes of a new tag digest", cfg.pushes)
		for k := 1; k <= cfg.pushes; k++ {
			i := (k * 7919) % n
			value := fmt.Sprintf("push-%d", k)
			if _, err := pushApp(ctx, host, i, value); err != nil {
				return nil, err
			}
			start := time.Now()
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, requestedAtAnnotation, start.Format(time.RFC3339Nano))
			src := ociRepository(ns, appName(i), "")
			if err := c.client.Patch(ctx, src, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				return nil, fmt.Errorf("request reconcile of %s: %w", src.Name, err)
			}
			cm := types.NamespacedName{Namespace: ns, Name: appName(i) + "-config"}
			applied, err := c.watch.until(ctx, cfg.timeout,
				func(v view) bool { return v.configValue(cm, "value") == value },
				func(v view) string {
					return fmt.Sprintf("ConfigMap %s has value %q, want %q", cm, v.configValue(cm, "value"), value)
				})
			if err != nil {
				return nil, fmt.Errorf("push %d: %w", k, err)
			}
			push.PushSeconds = append(push.PushSeconds, seconds(applied.Sub(start)))
			cfg.logf("  push %2d: %s applied in %.3f s", k, appName(i), applied.Sub(start).Seconds())
		}
		push.PushP50, push.PushP95, push.PushMax = percentile(push.PushSeconds, 50), percentile(push.PushSeconds, 95), percentile(push.PushSeconds, 100)
		out = append(out, push)
	}
	for i := range out {
		finish(c, &out[i])
	}
	return out, nil
}

// pushApp pushes application i, with its ConfigMap holding value, as the tag latest of its
// own repository.
func pushApp(ctx context.Context, host string, i int, value string) (string, error) {
	dir, err := os.MkdirTemp("", "weir-bench-oci-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(appYAML(appName(i), true, value)), 0o644); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := artifact.WriteTarGz(ctx, &buf, dir, nil, 0); err != nil {
		return "", err
	}
	ref, err := oci.ParseArtifact("oci://"+host+"/apps/"+appName(i)+":latest", true)
	if err != nil {
		return "", err
	}
	d, err := oci.Push(ctx, ref, buf.Bytes(), oci.Metadata{Source: "bench", Revision: value}, oci.Options{Insecure: true})
	if err != nil {
		return "", fmt.Errorf("push %s: %w", appName(i), err)
	}
	return d.String(), nil
}

// ociRepository returns an OCIRepository of url's tag latest, with the benchmark's long interval.
func ociRepository(ns, name, url string) *sourcev1.OCIRepository {
	return &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       sourcev1.OCIRepositorySpec{URL: url, Insecure: true, Interval: metav1.Duration{Duration: time.Hour}},
	}
}
