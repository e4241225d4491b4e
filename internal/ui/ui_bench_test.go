package ui_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"golang.org/x/sync/errgroup"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BenchmarkUIScale measures the UI with 1,000 Kustomizations (suspended) and 1,000
// HelmReleases, with Ready conditions set by the benchmark (one in twenty failing) and in
// chains of ten dependsOn: the time until the overview, the Kustomization list and the graph are rendered
// in headless Chromium, the time a hover on the graph takes, and the Go heap the UI's requests
// leave behind after a collection.
func BenchmarkUIScale(b *testing.B) {
	const n = 1000
	ctx := b.Context()
	ns := env.Namespace(b)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("ks-%04d", i)},
				Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Hour}, Path: "./", Suspend: false,
					SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet-not-here"}}}
			if i%10 != 0 {
				ks.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: fmt.Sprintf("ks-%04d", i-1)}}
			}
			ks.Labels = map[string]string{"weir.test/bench": "ui"}
			ks.Spec.Suspend = true
			if err := env.Client.Create(gctx, ks); err != nil {
				return err
			}
			status := metav1.ConditionTrue
			if i%20 == 0 {
				status = metav1.ConditionFalse
			}
			ksBase := ks.DeepCopy()
			apimeta.SetStatusCondition(&ks.Status.Conditions, metav1.Condition{Type: "Ready", Status: status, Reason: "Bench", Message: "set by the benchmark"})
			ks.Status.LastAppliedRevision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
			if err := env.Client.Status().Patch(gctx, ks, client.MergeFrom(ksBase)); err != nil {
				return err
			}
			hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("hr-%04d", i)},
				Spec: helmv2.HelmReleaseSpec{Interval: metav1.Duration{Duration: time.Hour},
					ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "chart"}}}
			if i%10 != 0 {
				hr.Spec.DependsOn = []helmv2.DependencyReference{{Name: fmt.Sprintf("hr-%04d", i-1)}}
			}
			if err := env.Client.Create(gctx, hr); err != nil {
				return err
			}
			hrBase := hr.DeepCopy()
			apimeta.SetStatusCondition(&hr.Status.Conditions, metav1.Condition{Type: "Ready", Status: status, Reason: "Bench", Message: "set by the benchmark"})
			return env.Client.Status().Patch(gctx, hr, client.MergeFrom(hrBase))
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}

	grant(b, ns, "bench", "get")
	tok := token(b, ns, "bench")
	bctx := browser(b)
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+uiAddr+"/"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tok), chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("attention"))); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	waitCount := func(js string, want int) time.Duration {
		start := time.Now()
		deadline := start.Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			got, err := chromedp.Run(bctx, chromedp.Evaluate[int](js))
			if err == nil && got >= want {
				return time.Since(start)
			}
			if err := chromedp.Do(bctx, chromedp.Sleep(20*time.Millisecond)); err != nil {
				b.Fatal(err)
			}
		}
		b.Fatalf("%s never reached %d", js, want)
		return 0
	}
	b.ResetTimer()
	var overview, list, graph, hover time.Duration
	for i := 0; i < b.N; i++ {
		if err := chromedp.Do(bctx, chromedp.Navigate("http://"+uiAddr+"/#/kinds")); err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(bctx, chromedp.Navigate("http://"+uiAddr+"/#/")); err != nil {
			b.Fatal(err)
		}
		// The failing HelmReleases (no HelmRelease controller runs here), and the header.
		overview += waitCount(`document.querySelectorAll("#attention tr").length`, n/20+1)
		if err := chromedp.Do(bctx, chromedp.Navigate("http://"+uiAddr+"/#/list/Kustomization")); err != nil {
			b.Fatal(err)
		}
		list += waitCount(`document.querySelectorAll("#list tbody tr").length`, n)
		if err := chromedp.Do(bctx, chromedp.Navigate("http://"+uiAddr+"/#/graph")); err != nil {
			b.Fatal(err)
		}
		graph += waitCount(`document.querySelectorAll("#graph g").length`, 2*n)
		start := time.Now()
		if ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const g = document.querySelector('#graph g[data-id$="/ks-0505"] rect'); g.dispatchEvent(new MouseEvent("mouseover", {bubbles: true})); return document.querySelectorAll("#graph g.keep").length === 10; })()`)); err != nil || !ok {
			b.Fatalf("hover on a node of a chain of ten: highlighted %v (%v)", ok, err)
		}
		hover += time.Since(start)
	}
	b.StopTimer()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(per(overview), "overview-ms")
	b.ReportMetric(per(list), "list-ms")
	b.ReportMetric(per(graph), "graph-ms")
	b.ReportMetric(per(hover), "hover-ms")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "heap-delta-MiB")
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
}
