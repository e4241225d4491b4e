package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// cluster is one measured setup: a local control plane with kube-controller-manager, a Git
// server, `weir controller` as a separate process, and the harness's own watches.
type cluster struct {
	env    *testenv.Env
	client client.Client
	git    *gitserver.Root
	http   *gitserver.HTTPServer
	t      *gitserver.Standalone
	weir   *exec.Cmd
	pprof  string
	// metrics is the address of weir's /metrics endpoint; receiverAddr and eventsAddr those of
	// its webhook receiver and events endpoint.
	metrics                  string
	receiverAddr, eventsAddr string
	work                     string
	watch                    *watcher
	plane                    map[string]int
	stopWatch                context.CancelFunc
	weirLog                  string
}

// startCluster starts a control plane, a Git server and, unless noWeir, weir.
func startCluster(ctx context.Context, cfg *config, noWeir bool) (c *cluster, err error) {
	work, err := os.MkdirTemp("", "weir-bench-")
	if err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	c = &cluster{work: work, t: gitserver.NewStandalone(filepath.Join(work, "git"))}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	cfg.logf("► starting a local control plane (etcd, kube-apiserver, kube-controller-manager)")
	c.env, err = testenv.Start(ctx, testenv.Options{ControllerManager: true})
	if err != nil {
		return nil, err
	}
	c.plane = childrenByName()
	// The harness creates thousands of objects at once: its client must not be the bottleneck.
	rc := rest.CopyConfig(c.env.Config)
	rc.QPS, rc.Burst = 2000, 4000
	c.client, err = client.New(rc, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	c.stopWatch = cancel
	c.watch, err = startWatcher(wctx, rc)
	if err != nil {
		return nil, err
	}
	if err := c.t.Do(func() {
		c.git = gitserver.NewRoot(c.t)
		c.http = c.git.ServeHTTP(gitserver.HTTPOptions{})
	}); err != nil {
		return nil, fmt.Errorf("start git server: %w", err)
	}
	if !noWeir {
		if err := c.startWeir(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return c, c.warmUp(ctx)
}

// warmUp lists every kind the workloads create, so that the harness client's REST mapping
// and the API server's first requests for weir's CRDs happen before any measured window.
func (c *cluster) warmUp(ctx context.Context) error {
	for _, l := range []client.ObjectList{
		&sourcev1.GitRepositoryList{}, &kustomizev1.KustomizationList{},
		&corev1.NamespaceList{}, &corev1.SecretList{}, &corev1.ConfigMapList{},
	} {
		if err := c.client.List(ctx, l, client.Limit(1)); err != nil {
			return fmt.Errorf("warm up: %w", err)
		}
	}
	return nil
}

func (c *cluster) startWeir(ctx context.Context, cfg *config) error {
	health, storage := mustFreeAddr(), mustFreeAddr()
	c.metrics, c.receiverAddr, c.eventsAddr = mustFreeAddr(), mustFreeAddr(), mustFreeAddr()
	args := []string{"controller",
		"--kubeconfig", c.env.Kubeconfig,
		"--health-addr", health, "--metrics-addr", c.metrics,
		"--storage-addr", storage, "--storage-adv-addr", storage,
		"--receiver-addr", c.receiverAddr, "--events-listen-addr", c.eventsAddr,
		"--storage-path", filepath.Join(c.work, "storage"),
		"--concurrent", strconv.Itoa(cfg.concurrent),
		"--log-encoding", "json", "--log-level", "info",
	}
	args = append(args, cfg.weirArgs...)
	if cfg.profileDir != "" {
		c.pprof = mustFreeAddr()
		args = append(args, "--pprof-addr", c.pprof)
	}
	// Not tied to ctx: Close stops weir with SIGTERM so that it can shut down cleanly.
	c.weir = exec.Command(cfg.weirBin, args...)
	c.weirLog = filepath.Join(c.work, "weir.log")
	logf, err := os.Create(c.weirLog)
	if err != nil {
		return fmt.Errorf("create weir log: %w", err)
	}
	c.weir.Stdout, c.weir.Stderr = logf, logf
	c.weir.Env = append(os.Environ(), "RUNTIME_NAMESPACE=flux-system")
	c.weir.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.weir.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start weir controller: %w", err)
	}
	logf.Close()
	if err := testenv.WaitHTTP(ctx, "http://"+health+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("weir controller not ready (log: %s): %w", c.weirLog, err)
	}
	cfg.logf("✔ weir controller running (pid %d, --concurrent %d)", c.weir.Process.Pid, cfg.concurrent)
	return nil
}

// weirPid is the pid of the weir process, 0 when none runs.
func (c *cluster) weirPid() int {
	if c.weir == nil || c.weir.Process == nil {
		return 0
	}
	return c.weir.Process.Pid
}

// usage snapshots CPU use for a measurement window.
func (c *cluster) usage() usage { return takeUsage(c.weirPid(), c.plane) }

// logTail returns the last n lines of weir's log, to explain a failed workload.
func (c *cluster) logTail(n int) string {
	data, err := os.ReadFile(c.weirLog)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// keepLog copies weir's log so far to path, for a look at where a profiled run spent its time.
func (c *cluster) keepLog(path string) {
	if data, err := os.ReadFile(c.weirLog); err == nil {
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		_ = os.WriteFile(path, data, 0o644)
	}
}

// Close stops weir, the Git server and the control plane, and removes the work directory.
func (c *cluster) Close() {
	if c == nil {
		return
	}
	if c.weir != nil && c.weir.Process != nil {
		_ = c.weir.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.weir.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = c.weir.Process.Kill()
			<-done
		}
	}
	if c.stopWatch != nil {
		c.stopWatch()
	}
	c.t.Close()
	if c.env != nil {
		c.env.Stop()
	}
	_ = os.RemoveAll(c.work)
}

// createAll creates objs with bounded parallelism, as `kubectl apply` of one large file
// would issue them, only faster.
func (c *cluster) createAll(ctx context.Context, objs []client.Object) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, o := range objs {
		g.Go(func() error {
			if err := c.client.Create(ctx, o); err != nil {
				return fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// commit runs one commit on the Git server and returns its hash.
func (c *cluster) commit(repo *gitserver.Repo, msg string, files map[string]string) (string, error) {
	var head string
	err := c.t.Do(func() { head = repo.Commit("main", msg, files) })
	return head, err
}

// newRepo creates a repository with one commit of files on main.
func (c *cluster) newRepo(name string, files map[string]string) (repo *gitserver.Repo, url, head string, err error) {
	err = c.t.Do(func() {
		repo = c.git.NewRepo(name)
		head = repo.Commit("main", "bench: "+name, files)
	})
	return repo, c.http.RepoURL(name), head, err
}

// captureProfiles fetches a CPU profile of the next seconds from weir's pprof server, then a
// heap profile, into dir as <name>.cpu.pprof and <name>.heap.pprof. It runs in the background;
// the returned function waits for it.
func (c *cluster) captureProfiles(ctx context.Context, dir, name string, seconds int) func() error {
	if c.pprof == "" || dir == "" {
		return func() error { return nil }
	}
	errc := make(chan error, 1)
	go func() {
		err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof, seconds), filepath.Join(dir, name+".cpu.pprof"))
		if err == nil {
			err = fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/heap", c.pprof), filepath.Join(dir, name+".heap.pprof"))
		}
		errc <- err
	}()
	return func() error { return <-errc }
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 256<<20)); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return f.Close()
}

func mustFreeAddr() string {
	addr, err := testenv.FreeAddr()
	if err != nil {
		panic(err)
	}
	return addr
}
