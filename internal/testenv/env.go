package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/weirgitops/weir/internal/manager"
)

// Options select what the control plane runs.
type Options struct {
	// ControllerManager starts kube-controller-manager too, so that Deployments, ReplicaSets,
	// namespaces being deleted and garbage collection behave as in a real cluster.
	ControllerManager bool
	// NoCRDs skips installing weir's CRDs.
	NoCRDs bool
	// TrustIssuerOf makes this API server authenticate the ServiceAccount tokens that another
	// Env's API server issues for Audience, as a remote cluster federated through OIDC with a
	// management cluster's issuer does: the user is "remote:" followed by the token's subject
	// (system:serviceaccount:<namespace>:<name>). The other Env must let anonymous clients
	// read its issuer discovery documents (AllowIssuerDiscovery).
	TrustIssuerOf *Env
	// Audience is the token audience TrustIssuerOf accepts.
	Audience string
}

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a controller-runtime client with weir's scheme.
	Client client.Client
	// Kubeconfig is the path of a kubeconfig file for Config, for processes and kubectl.
	Kubeconfig string

	env     *envtest.Environment
	dir     string
	kcm     *exec.Cmd
	kcmDone chan struct{}
	stop    sync.Once
	logs    SyncBuffer
	// requests counts the in-process Manager's API requests.
	requests atomic.Int64
}

// Start starts etcd, kube-apiserver and, when asked, kube-controller-manager, and installs
// weir's CRDs. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Env, error) {
	assets, err := EnsureAssets(ctx)
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "weir-testenv-")
	if err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		ErrorIfCRDPathMissing: true,
		Scheme:                manager.NewScheme(),
	}
	if !opts.NoCRDs {
		te.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
	}
	// etcd keeps its data in the work directory (not a directory of its own that stopping it
	// removes), so that RestartEtcd brings the same cluster back.
	etcdDir := filepath.Join(dir, "etcd")
	if err := os.MkdirAll(etcdDir, 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create etcd data dir: %w", err)
	}
	te.ControlPlane.Etcd = &envtest.Etcd{DataDir: etcdDir}
	api := te.ControlPlane.GetAPIServer()
	api.Configure().
		Set("service-cluster-ip-range", "10.96.0.0/16").
		Set("max-requests-inflight", "1000").
		Set("max-mutating-requests-inflight", "500")
	// A fixed secure port, so that the issuer's discovery document can name the JWKS on it:
	// another API server may verify this one's ServiceAccount tokens (TrustIssuerOf).
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	api.Address, api.Port = "127.0.0.1", strconv.Itoa(port)
	api.Configure().Set("service-account-jwks-uri", fmt.Sprintf("https://127.0.0.1:%d/openid/v1/jwks", port))
	if t := opts.TrustIssuerOf; t != nil {
		path := filepath.Join(dir, "authentication.yaml")
		if err := os.WriteFile(path, authenticationConfig(t.Issuer(), opts.Audience, t.Config.CAData), 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("write authentication config: %w", err)
		}
		api.Configure().Set("authentication-config", path)
	}
	e := &Env{env: te, dir: dir}
	cfg, err := te.Start()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	e.Config = cfg
	if err := e.init(ctx, opts); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// freePort returns a loopback TCP port nobody listens on.
func freePort() (int, error) {
	addr, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// authenticationConfig is a structured authentication configuration with one JWT
// authenticator for issuer, whose discovery documents are served with the CA caPEM.
func authenticationConfig(issuer, audience string, caPEM []byte) []byte {
	ca := strings.ReplaceAll(strings.TrimSpace(string(caPEM)), "\n", "\n      ")
	return []byte(fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: %q
    audiences: [%q]
    certificateAuthority: |
      %s
  claimMappings:
    username:
      claim: sub
      prefix: "remote:"
`, issuer, audience, ca))
}

// AllowIssuerDiscovery lets anonymous clients read this API server's ServiceAccount issuer
// discovery documents (/.well-known/openid-configuration and the JWKS), so that another API
// server can verify its tokens.
func (e *Env) AllowIssuerDiscovery(ctx context.Context) error {
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "weir-testenv-issuer-discovery"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:unauthenticated"}},
	}
	if err := e.Client.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("allow issuer discovery: %w", err)
	}
	return nil
}

// Issuer is the issuer of the ServiceAccount tokens this Env's API server signs.
func (e *Env) Issuer() string {
	return e.env.ControlPlane.GetAPIServer().SecureServing.URL("https", "/").String()
}

func (e *Env) init(ctx context.Context, opts Options) error {
	c, err := client.New(e.Config, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	e.Client = c
	admin, err := e.env.AddUser(envtest.User{Name: "weir-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if opts.ControllerManager {
		if err := e.startControllerManager(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) startControllerManager(ctx context.Context) error {
	bin := filepath.Join(e.env.BinaryAssetsDirectory, "kube-controller-manager")
	// The throughput flags keep kube-controller-manager from being the bottleneck: at its
	// defaults, 100 Deployments take about 30 s to turn Available.
	e.kcm = exec.Command(bin,
		"--kubeconfig="+e.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--controllers=*,-serviceaccount-token,-bootstrapsigner,-tokencleaner,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20",
		"--concurrent-namespace-syncs=10", "--concurrent-gc-syncs=40",
		"--v=0",
	)
	logf, err := os.Create(filepath.Join(e.dir, "kube-controller-manager.log"))
	if err != nil {
		return fmt.Errorf("create controller-manager log: %w", err)
	}
	e.kcm.Stdout, e.kcm.Stderr = logf, logf
	e.kcm.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.kcm.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start kube-controller-manager: %w", err)
	}
	e.kcmDone = make(chan struct{})
	go func() {
		_ = e.kcm.Wait()
		logf.Close()
		close(e.kcmDone)
	}()
	return e.waitControllerManager(ctx)
}

// waitControllerManager waits until kube-controller-manager acts: the namespace controller
// finalizes namespaces, so the creation of the default ServiceAccount in "default" is the sign.
func (e *Env) waitControllerManager(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var sa corev1.ServiceAccount
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &sa)
		if err == nil {
			return nil
		}
		select {
		case <-e.kcmDone:
			return fmt.Errorf("kube-controller-manager exited; see %s", filepath.Join(e.dir, "kube-controller-manager.log"))
		case <-ctx.Done():
			return fmt.Errorf("wait for kube-controller-manager: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop stops every process of the control plane and removes its files. It is safe to call
// more than once.
func (e *Env) Stop() {
	e.stop.Do(func() {
		if e.kcm != nil && e.kcm.Process != nil {
			_ = e.kcm.Process.Signal(syscall.SIGTERM)
			select {
			case <-e.kcmDone:
			case <-time.After(10 * time.Second):
				_ = e.kcm.Process.Kill()
				<-e.kcmDone
			}
		}
		if err := e.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop control plane: %v\n", err)
		}
		_ = os.RemoveAll(e.dir)
	})
}

// RestartEtcd stops etcd and starts it again on the same data and client address, as an
// operator restarting it would: the API server loses its storage meanwhile and reconnects.
func (e *Env) RestartEtcd() error {
	etcd := e.env.ControlPlane.Etcd
	if err := etcd.Stop(); err != nil {
		return fmt.Errorf("stop etcd: %w", err)
	}
	if err := etcd.Start(); err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	return nil
}

// Namespace creates a namespace with a random name for one test and deletes it when the test
// ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := "t-" + rand.String(8)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Client.Delete(ctx, ns)
	})
	return name
}

// Main runs a package's tests on one shared control plane and exits with their result. The
// control plane is stopped even when tests fail. Use it from TestMain:
//
//	var env *testenv.Env
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.Options{}, &env) }
func Main(m *testing.M, opts Options, env **Env) {
	os.Exit(Run(m, opts, env))
}

// Run is Main without the exit: it returns the tests' exit code, for a TestMain with more to
// clean up. Each setup function runs after the control plane started, with a context that
// ends when the tests do (to run controllers in-process, for example).
func Run(m *testing.M, opts Options, env **Env, setup ...func(context.Context, *Env) error) int {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	e, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	defer e.Stop()
	*env = e
	for _, s := range setup {
		if err := s(ctx, e); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: setup: %v\n", err)
			return 1
		}
	}
	code := m.Run()
	cancel() // stop in-process controllers before the control plane goes
	return code
}

// HTTPGet is a small helper for tests that probe HTTP endpoints: it returns the status code.
func HTTPGet(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// WaitHTTP polls url until it answers 200 OK, or fails when timeout passes.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if code, err := HTTPGet(ctx, url); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Eventually polls cond every interval until it returns true or the deadline passes, and fails
// the test with the last error when it does not.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := cond()
		if last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting: %v", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// KubectlCommand returns a kubectl command against the control plane, from the kubectl built
// with it.
func KubectlCommand(t testing.TB, e *Env, args ...string) *exec.Cmd {
	t.Helper()
	return exec.CommandContext(t.Context(), Kubectl(), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
}

// RequestReconcile sets reconcile.fluxcd.io/requestedAt on obj (only its namespace and name
// are read) with a merge patch, as `weir reconcile` and Receivers do; obj is updated from the
// answer.
func (e *Env) RequestReconcile(t testing.TB, obj client.Object) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if err := e.Client.Patch(t.Context(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}
