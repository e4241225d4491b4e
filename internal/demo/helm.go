package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
)

// helmStage shows a HelmRelease with weir's CLI: a local chart repository, a HelmRepository
// and a HelmRelease installed from it.
func helmStage(ctx context.Context, out io.Writer, env *testenv.Env, work string, weir func(...string) error, timeout time.Duration) error {
	dir := filepath.Join(work, "charts")
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "hello", Version: "1.0.0", AppVersion: "1.0.0"},
		Raw: []*common.File{{Name: "values.yaml", Data: []byte("greeting: hello\n"), ModTime: time.Now()}},
		Templates: []*common.File{{Name: "templates/cm.yaml", ModTime: time.Now(), Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n")}},
		Values: map[string]any{"greeting": "hello"}}
	if _, err := chartutil.Save(ch, dir); err != nil {
		return err
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	idx, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		return err
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n► helm: a chart repository at %s\n", srv.URL)
	steps := [][]string{
		{"create", "source", "helm", "demo-charts", "-n", "flux-system", "--url", srv.URL, "--interval", "1h"},
		{"create", "helmrelease", "hello", "-n", "flux-system", "--source", "HelmRepository/demo-charts", "--chart", "hello",
			"--chart-version", "1.x", "--target-namespace", "default", "--interval", "1h"},
	}
	for _, s := range steps {
		fmt.Fprintf(out, "$ weir %s\n", strings.Join(s, " "))
		if err := weir(s...); err != nil {
			return err
		}
	}
	if err := waitGreeting(ctx, env, "default-hello", "hello", timeout); err != nil {
		return err
	}
	fmt.Fprintln(out, "✔ helm: release default/default-hello installed (ConfigMap greeting: hello); its record is the helm CLI's Secret flux-system/sh.helm.release.v1.default-hello.v1")
	return weir("get", "helmreleases", "-n", "flux-system")
}

// waitGreeting waits until the released ConfigMap in default has the greeting.
func waitGreeting(ctx context.Context, env *testenv.Env, name, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &cm); err == nil && cm.Data["greeting"] == want {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the HelmRelease was not released in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
