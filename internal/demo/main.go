// Command demo runs weir's main job end to end on a local embedded setup: a local
// kube-apiserver, etcd and kube-controller-manager, a local Git repository served over HTTP,
// and `weir controller` reconciling it, with weir's own view of the cluster printed as it
// converges. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/weirgitops/weir/internal/testenv"
)

func main() {
	keep := flag.Bool("keep", false, "keep the setup running after it converged, until Ctrl-C")
	weirBin := flag.String("weir", "bin/weir", "path of the weir binary")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long to wait for convergence")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *weirBin, *timeout, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "✗ demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, weirBin string, timeout time.Duration, keep bool) error {
	fmt.Fprintln(out, "► starting a local control plane (etcd, kube-apiserver, kube-controller-manager)")
	env, err := testenv.Start(ctx, testenv.Options{ControllerManager: true})
	if err != nil {
		return err
	}
	defer env.Stop()
	fmt.Fprintf(out, "✔ control plane up, Kubernetes %s; kubeconfig %s\n", testenv.KubernetesVersion, env.Kubeconfig)

	work, err := os.MkdirTemp("", "weir-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	site, err := startSite(ctx, out, env, work)
	if err != nil {
		return err
	}
	defer site.Close()

	health, uiAddr := mustFreeAddr(), mustFreeAddr()
	ctrl := exec.CommandContext(ctx, weirBin, "controller", "--ui-addr", uiAddr,
		"--kubeconfig", env.Kubeconfig,
		"--health-addr", health, "--metrics-addr", mustFreeAddr(),
		"--storage-addr", site.storageAddr, "--storage-adv-addr", site.storageAddr,
		"--receiver-addr", site.receiverAddr, "--events-listen-addr", mustFreeAddr(),
		"--storage-path", filepath.Join(work, "storage"),
		"--log-encoding", "console", "--log-level", "info")
	logPath := filepath.Join(work, "weir.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	ctrl.Stdout, ctrl.Stderr = logf, logf
	ctrl.Env = append(os.Environ(), "RUNTIME_NAMESPACE=flux-system")
	ctrl.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ctrl.Start(); err != nil {
		return fmt.Errorf("start weir controller: %w", err)
	}
	defer func() {
		_ = ctrl.Process.Signal(syscall.SIGTERM)
		_ = ctrl.Wait()
	}()
	if err := testenv.WaitHTTP(ctx, "http://"+health+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("weir controller not ready (log: %s): %w", logPath, err)
	}
	fmt.Fprintln(out, "✔ weir controller running")

	weirCmd := func(args ...string) error {
		cmd := exec.CommandContext(ctx, weirBin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("weir %s: %w", args[0], err)
		}
		return nil
	}
	weir := func(args ...string) { _ = weirCmd(args...) }
	weir("version", "--client")
	if err := site.converge(ctx, out, weir, timeout); err != nil {
		return err
	}
	if err := site.webhookPush(ctx, out, weirCmd, timeout); err != nil {
		return err
	}
	if err := gitless(ctx, out, env, work, weirCmd, timeout); err != nil {
		return err
	}
	if err := helmStage(ctx, out, env, work, weirCmd, timeout); err != nil {
		return err
	}
	if err := uiStage(ctx, out, env, uiAddr); err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "► running until Ctrl-C; export KUBECONFIG=%s to look around\n", env.Kubeconfig)
		<-ctx.Done()
	}
	return nil
}

func mustFreeAddr() string {
	addr, err := testenv.FreeAddr()
	if err != nil {
		panic(err)
	}
	return addr
}
