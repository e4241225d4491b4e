package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/source/oci"
)

// imageTags is how many tags the image workload pushes, one measurement each.
const imageTags = 10

// imageApp is the application the image workload deploys: a Deployment scaled to zero and
// a ConfigMap (which the harness watches), both carrying the image with a policy marker.
func imageApp(ns, image string) string {
	marker := ` # {"$imagepolicy": "` + ns + `:app"}`
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 0
  selector: {matchLabels: {app: app}}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: ` + image + marker + `
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-image
  labels:
    ` + appLabel + `: app
data:
  value: ` + image + marker + `
`
}

// runImage measures tag pushed → applied through the whole image chain: a tag pushed to a
// registry, the ImageRepository's reconcile requested (as a registry webhook Receiver
// would), the ImagePolicy selecting it, the ImageUpdateAutomation committing and pushing,
// the GitRepository fetching and the Kustomization applying. The scan interval's own wait,
// when no webhook announces the tag, comes on top and is not measured.
func runImage(ctx context.Context, c *cluster, cfg *config) ([]Result, error) {
	const ns = "image"
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	image := host + "/app"
	if err := pushImageTag(ctx, host, "1.0.0"); err != nil {
		return nil, err
	}
	_, url, _, err := c.newRepo(ns, map[string]string{"deploy/app.yaml": imageApp(ns, image+":1.0.0")})
	if err != nil {
		return nil, err
	}
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	ks := kustomization(ns, "app", "fleet", "./deploy")
	ks.Spec.Wait = false
	repo := &imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: imagev1.ImageRepositorySpec{Image: image, Insecure: true, Interval: metav1.Duration{Duration: time.Hour}}}
	objs := []client.Object{
		gitRepository(ns, "fleet", url), ks, repo,
		&imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: meta.NamespacedObjectReference{Name: "app"}, Policy: imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: "1.x"}}}},
		&imageautov1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: imageautov1.ImageUpdateAutomationSpec{
			Interval:  metav1.Duration{Duration: time.Hour},
			SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			GitSpec: &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{Author: imageautov1.CommitUser{Name: "bench", Email: "bench@weir.invalid"}},
				Push: &imageautov1.PushSpec{Branch: "main"}},
			Update: &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: "./deploy"},
		}},
	}
	cfg.logf("► creating the image chain in %s", ns)
	if _, err := measureReady(ctx, c, cfg, ns, 1, objs, "image"); err != nil {
		return nil, err
	}
	r := Result{Workload: "image", Variant: "tag to applied", N: 1, Objects: 2, Machine: machine(cfg)}
	cm := types.NamespacedName{Namespace: ns, Name: "app-image"}
	cfg.logf("► %d tags pushed", imageTags)
	for k := 1; k <= imageTags; k++ {
		tag := fmt.Sprintf("1.0.%d", k)
		if err := pushImageTag(ctx, host, tag); err != nil {
			return nil, err
		}
		start := time.Now()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, requestedAtAnnotation, start.Format(time.RFC3339Nano))
		if err := c.client.Patch(ctx, repo.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return nil, fmt.Errorf("request a scan: %w", err)
		}
		want := image + ":" + tag
		applied, err := c.watch.until(ctx, cfg.timeout,
			func(v view) bool { return v.configValue(cm, "value") == want },
			func(v view) string {
				return fmt.Sprintf("ConfigMap %s has %q, want %q", cm, v.configValue(cm, "value"), want)
			})
		if err != nil {
			return nil, fmt.Errorf("tag %s: %w", tag, err)
		}
		r.PushSeconds = append(r.PushSeconds, seconds(applied.Sub(start)))
		cfg.logf("  tag %s applied in %.3f s", tag, applied.Sub(start).Seconds())
	}
	r.PushP50, r.PushP95, r.PushMax = percentile(r.PushSeconds, 50), percentile(r.PushSeconds, 95), percentile(r.PushSeconds, 100)
	finish(c, &r)
	return []Result{r}, nil
}

// pushImageTag pushes an empty artifact as host/app:tag.
func pushImageTag(ctx context.Context, host, tag string) error {
	emptyDir, err := os.MkdirTemp("", "weir-bench-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(emptyDir)
	ref, err := oci.ParseArtifact("oci://"+host+"/app:"+tag, true)
	if err != nil {
		return err
	}
	var content bytes.Buffer
	if err := artifact.WriteTarGz(ctx, &content, emptyDir, nil, 0); err != nil {
		return err
	}
	if _, err := oci.Push(ctx, ref, content.Bytes(), oci.Metadata{}, oci.Options{Insecure: true}); err != nil {
		return fmt.Errorf("push %s: %w", tag, err)
	}
	return nil
}

// runImageScan measures the scan of a repository with n tags (served in pages of 1,000 as
// registries paginate): creation to Ready, weir's memory before and after, then a rescan of
// the unchanged repository.
func runImageScan(ctx context.Context, c *cluster, cfg *config, n int) ([]Result, error) {
	const ns, page = "imagescan", 1000
	all := make([]string, n)
	for i := range all {
		all[i] = "build-" + strconv.Itoa(i)
	}
	slices.Sort(all)
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.HasSuffix(req.URL.Path, "/many/tags/list") {
			inner.ServeHTTP(w, req)
			return
		}
		start := 0
		if last := req.URL.Query().Get("last"); last != "" {
			i, _ := slices.BinarySearch(all, last)
			start = i + 1
		}
		end := min(start+page, n)
		if end < n {
			w.Header().Set("Link", fmt.Sprintf(`</v2/many/tags/list?n=%d&last=%s>; rel="next"`, page, all[end-1]))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "many", "tags": all[start:end]})
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := c.client.Create(ctx, namespace(ns)); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	rssBefore, _, _ := memory(c.weirPid())
	before := c.usage()
	repo := &imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "many"},
		Spec: imagev1.ImageRepositorySpec{Image: host + "/many", Insecure: true, Interval: metav1.Duration{Duration: time.Hour}}}
	start := time.Now()
	if err := c.client.Create(ctx, repo); err != nil {
		return nil, err
	}
	_, err := waitScan(ctx, c, cfg, client.ObjectKeyFromObject(repo), "", n)
	if err != nil {
		return nil, err
	}
	scanned := time.Now()
	after := c.usage()
	rssAfter, _, _ := memory(c.weirPid())
	r := Result{Workload: "image", Variant: "scan", N: n, Machine: machine(cfg),
		ReadySeconds: seconds(scanned.Sub(start)), CPUSeconds: round(after.weir-before.weir, 2),
		RSSAtReadyMiB: round(rssAfter, 1), RSSBeforeMiB: round(rssBefore, 1)}
	cfg.logf("  %d tags scanned in %.3f s, weir RSS %.1f → %.1f MiB", n, scanned.Sub(start).Seconds(), rssBefore, rssAfter)

	start = time.Now()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, requestedAtAnnotation, start.Format(time.RFC3339Nano))
	if err := c.client.Patch(ctx, repo.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return nil, err
	}
	if _, err := waitScan(ctx, c, cfg, client.ObjectKeyFromObject(repo), start.Format(time.RFC3339Nano), n); err != nil {
		return nil, err
	}
	r.SettleSeconds = []float64{seconds(time.Since(start))}
	r.SettleP50, r.SettleMax = r.SettleSeconds[0], r.SettleSeconds[0]
	finish(c, &r)
	return []Result{r}, nil
}

// waitScan polls the ImageRepository until it is Ready with n tags (and has handled the
// reconcile request, when not empty).
func waitScan(ctx context.Context, c *cluster, cfg *config, key client.ObjectKey, handled string, n int) (*imagev1.ImageRepository, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var r imagev1.ImageRepository
		if err := c.client.Get(ctx, key, &r); err == nil && r.Status.LastScanResult != nil &&
			r.Status.LastScanResult.TagCount == n && (handled == "" || r.Status.LastHandledReconcileAt == handled) {
			return &r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ImageRepository %s not scanned: %w", key, ctx.Err())
		case <-tick.C:
		}
	}
}
