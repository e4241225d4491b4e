package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
)

// gitless shows GitOps from an OCI registry with weir's CLI: push a directory as an artifact,
// create an OCIRepository and a Kustomization for it, push a new version and reconcile.
func gitless(ctx context.Context, out io.Writer, env *testenv.Env, work string, weir func(...string) error, timeout time.Duration) error {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	url := "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/manifests/gitless"
	dir := filepath.Join(work, "gitless")
	write := func(version string) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gitless\n  namespace: default\ndata:\n  version: "+version+"\n"), 0o644)
	}
	fmt.Fprintf(out, "\n► gitless: pushing ./gitless to %s with weir push artifact\n", url)
	if err := write("v1"); err != nil {
		return err
	}
	steps := [][]string{
		{"push", "artifact", url + ":latest", "--path", dir, "--source", "https://github.com/example/gitless", "--revision", "main@sha1:0123456789abcdef0123456789abcdef01234567"},
		{"create", "source", "oci", "gitless", "-n", "flux-system", "--url", url, "--tag", "latest", "--insecure", "--interval", "1h"},
		{"create", "kustomization", "gitless", "-n", "flux-system", "--source", "OCIRepository/gitless", "--path", "./", "--prune", "--interval", "1h"},
	}
	for _, s := range steps {
		fmt.Fprintf(out, "$ weir %s\n", strings.Join(s, " "))
		if err := weir(s...); err != nil {
			return err
		}
	}
	if err := write("v2"); err != nil {
		return err
	}
	fmt.Fprintln(out, "► gitless: pushing version v2 and asking for a reconcile, as a registry webhook would")
	if err := weir(steps[0]...); err != nil {
		return err
	}
	start := time.Now()
	if err := weir("reconcile", "source", "oci", "gitless", "-n", "flux-system"); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "gitless"}, &cm); err == nil && cm.Data["version"] == "v2" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the pushed artifact was not applied in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "✔ gitless: v2 applied %s after the reconcile request (ConfigMap default/gitless version: v2)\n", time.Since(start).Round(time.Millisecond))
	return weir("get", "sources", "oci", "-n", "flux-system")
}
