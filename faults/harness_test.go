//go:build faults

package faults_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// caseLabel marks every object of one case; the case's controller watches only those
// (--watch-label-selector), so that cases run side by side without seeing each other.
const caseLabel = "faults.weir.dev/case"

// world is one fault case: its namespace, the canary planted around it and the `weir
// controller` process that reconciles its objects.
type world struct {
	t  *testing.T
	id string
	// ns holds the case's Flux objects and what they apply.
	ns string
	// canary is a random token that must never appear in anything weir writes or prints. It is
	// the content of Canary() (a file outside every root weir reads) and the value of the Secret
	// canary/<id> in another namespace.
	canary string
	// base is the directory holding the canary file, the artifact store and the temporary
	// directory of the controller: a `../` out of an artifact lands next to the canary.
	base string
	git  *gitserver.Root
	http *gitserver.HTTPServer
	// proc is the running controller; nil between stop and start.
	proc *process
	// outputs are other texts the oracle searches: CLI output, notifications.
	mu      sync.Mutex
	outputs []string
	// authored are the objects the case wrote itself ("Kind/namespace/name"): the canary in
	// a Secret the case wrote is the case's doing, not a leak.
	authored map[string]bool
}

// newWorld prepares a case: namespace, canary file and Secret, a Git server. It does not start
// the controller (start does), so that a case can create its objects first.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, id: "c" + rand.String(6), ns: env.Namespace(t), canary: "weir-canary-" + rand.String(24), base: t.TempDir()}
	if err := os.WriteFile(w.Canary(), []byte(w.canary+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.git = gitserver.NewRoot(t)
	w.http = w.git.ServeHTTP(gitserver.HTTPOptions{})
	canaryNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "canary"}}
	if err := env.Client.Create(t.Context(), canaryNS); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: w.id, Namespace: "canary"},
		StringData: map[string]string{"token": w.canary, "password": w.canary, "values.yaml": "leak: " + w.canary}}
	if err := env.Client.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), secret) })
	return w
}

// nsOf is the namespace obj will be created in.
func (w *world) nsOf(obj client.Object) string {
	if obj.GetNamespace() != "" {
		return obj.GetNamespace()
	}
	return w.ns
}

// Canary is the path of the file that holds the canary, outside every root.
func (w *world) Canary() string { return filepath.Join(w.base, "canary.txt") }

// label puts the case's label on obj and returns it.
func (w *world) label(obj client.Object) client.Object {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[caseLabel] = w.id
	obj.SetLabels(l)
	if obj.GetNamespace() == "" {
		obj.SetNamespace(w.ns)
	}
	return obj
}

// create creates the case's objects, labelled.
func (w *world) create(objs ...client.Object) {
	w.t.Helper()
	for _, o := range objs {
		if w.authored == nil {
			w.authored = map[string]bool{}
		}
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if kind == "" {
			if gvk, err := apiutil.GVKForObject(o, env.Client.Scheme()); err == nil {
				kind = gvk.Kind
			}
		}
		w.authored[kind+"/"+w.nsOf(o)+"/"+o.GetName()] = true
		if err := env.Client.Create(w.t.Context(), w.label(o)); err != nil {
			w.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// repo creates a Git repository with files on main and its GitRepository of the same name.
func (w *world) repo(name string, files map[string]string) *gitserver.Repo {
	w.t.Helper()
	r := w.git.NewRepo(name)
	r.Commit("main", "initial", files)
	w.create(&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: sourcev1.GitRepositorySpec{
		URL: w.http.RepoURL(name), Interval: metav1.Duration{Duration: time.Hour},
		Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
	}})
	return r
}

// kustomization creates a Kustomization of the GitRepository source at path, pruning, with
// whatever edit sets.
func (w *world) kustomization(name, source, path string, edit ...func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	w.t.Helper()
	k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kustomizev1.KustomizationSpec{
		Interval: metav1.Duration{Duration: time.Hour}, Path: path, Prune: true, TargetNamespace: w.ns,
		SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
	}}
	for _, e := range edit {
		e(k)
	}
	w.create(k)
	return k
}

// process is one `weir controller`.
type process struct {
	cmd   *exec.Cmd
	log   *testenv.SyncBuffer
	pprof string
	// receiver is the address of the webhook receiver server.
	receiver string
	done     chan struct{}
}

// controllerArgs are the arguments every case's controller gets; extra ones are appended
// (a later flag wins).
func (w *world) controllerArgs(kubeconfig string) []string {
	return []string{"controller", "--kubeconfig", kubeconfig,
		"--watch-label-selector", caseLabel + "=" + w.id,
		"--health-addr", freeAddr(w.t), "--metrics-addr", "0", "--storage-addr", freeAddr(w.t),
		"--receiver-addr", freeAddr(w.t), "--events-listen-addr", freeAddr(w.t),
		"--storage-path", filepath.Join(w.base, "storage"), "--temp-dir", w.tempDir(),
		"--log-encoding", "json", "--min-interval", "1s", "--min-retry-delay", "200ms", "--max-retry-delay", "5s"}
}

func (w *world) tempDir() string {
	d := filepath.Join(w.base, "tmp")
	_ = os.MkdirAll(d, 0o755)
	return d
}

// start runs the case's controller with extra flags and environment ("NAME=value").
func (w *world) start(extra []string, environ ...string) *process {
	return w.startWith(env.Kubeconfig, extra, environ...)
}

// startWith runs the controller against another kubeconfig (a proxy in front of the API server).
func (w *world) startWith(kubeconfig string, extra []string, environ ...string) *process {
	w.t.Helper()
	p := &process{log: &testenv.SyncBuffer{}, pprof: freeAddr(w.t), done: make(chan struct{})}
	p.receiver = freeAddr(w.t)
	args := append(w.controllerArgs(kubeconfig), "--pprof-addr", p.pprof, "--receiver-addr", p.receiver)
	p.cmd = exec.Command(weirBin, append(args, extra...)...)
	p.cmd.Env = append(append(os.Environ(), "RUNTIME_NAMESPACE="+w.ns), environ...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	w.proc = p
	w.t.Cleanup(func() {
		if w.t.Failed() && !p.exited() {
			p.dumpGoroutines(w.t)
		}
		p.kill()
		w.assertNoCanaryIn("controller log", p.log.String())
	})
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process ended (a fault point killed it).
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// peakRSS is the process' peak resident set (VmHWM), in bytes.
func (p *process) peakRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// goroutines is the process' current number of goroutines, from its pprof endpoint.
func (p *process) goroutines(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + p.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// "goroutine profile: total 123"
	n, err := strconv.Atoi(strings.TrimSpace(line[strings.LastIndex(line, " ")+1:]))
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return n
}

// profile writes a CPU profile of the process over d to path (for a case run with
// FAULTS_PROFILE_DIR set, to see where a fault's cost goes).
func (p *process) profile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprof, int(d.Seconds())))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("CPU profile of the controller: %s", path)
}

// dumpGoroutines writes the process' goroutines and log next to the test's temporary files
// and says where, for a failed case.
func (p *process) dumpGoroutines(t *testing.T) {
	resp, err := http.Get("http://" + p.pprof + "/debug/pprof/goroutine?debug=2")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	f, err := os.CreateTemp("", "weir-faults-"+strings.ReplaceAll(t.Name(), "/", "-")+"-*.txt")
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(b)
	_, _ = f.WriteString("\n\n---- log ----\n" + p.log.String())
	t.Logf("goroutines and log of the controller: %s", f.Name())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// record adds a text the canary oracle searches (CLI output, a notification's body).
func (w *world) record(what, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outputs = append(w.outputs, what+"\x00"+text)
}

// assertNoCanaryIn fails when text holds the canary.
func (w *world) assertNoCanaryIn(what, text string) {
	w.t.Helper()
	if i := strings.Index(text, w.canary); i >= 0 {
		from, to := max(0, i-300), min(len(text), i+len(w.canary)+100)
		w.t.Errorf("the canary leaked into %s: …%s…", what, text[from:to])
	}
}

// leakKinds are what the oracle reads back from the cluster: every object weir writes status,
// events or data to.
var leakKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMapList"},
	{Version: "v1", Kind: "SecretList"},
	{Version: "v1", Kind: "EventList"},
	{Group: "events.k8s.io", Version: "v1", Kind: "EventList"},
	{Version: "v1", Kind: "ServiceAccountList"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepositoryList"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepositoryList"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "BucketList"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepositoryList"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChartList"},
	{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "KustomizationList"},
	{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmReleaseList"},
	{Group: "notification.toolkit.fluxcd.io", Version: "v1", Kind: "ReceiverList"},
	{Group: "image.toolkit.fluxcd.io", Version: "v1", Kind: "ImageRepositoryList"},
	{Group: "image.toolkit.fluxcd.io", Version: "v1", Kind: "ImagePolicyList"},
}

// assertNoCanary is the canary oracle: the token is in no object of the cluster outside the
// canary namespace (data, status, events), in no log line of the controller, and in no output
// or notification the case recorded.
func (w *world) assertNoCanary() {
	w.t.Helper()
	for _, gvk := range leakKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk)
		if err := env.Client.List(context.Background(), list); err != nil {
			w.t.Fatalf("list %s: %v", gvk.Kind, err)
		}
		for _, item := range list.Items {
			kind := strings.TrimSuffix(gvk.Kind, "List")
			if item.GetNamespace() == "canary" || (w.authored[kind+"/"+item.GetNamespace()+"/"+item.GetName()] && (kind == "Secret" || kind == "ConfigMap")) {
				continue
			}
			// Of a Flux object, what weir wrote: its status (the spec is the case's).
			var written any = item.Object
			if strings.HasSuffix(gvk.Group, ".fluxcd.io") {
				written = item.Object["status"]
			}
			b, err := json.Marshal(written)
			if err != nil {
				w.t.Fatal(err)
			}
			w.assertNoCanaryIn(fmt.Sprintf("%s %s/%s", strings.TrimSuffix(gvk.Kind, "List"), item.GetNamespace(), item.GetName()), string(b))
		}
	}
	if w.proc != nil {
		w.assertNoCanaryIn("controller log", w.proc.log.String())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range w.outputs {
		what, text, _ := strings.Cut(o, "\x00")
		w.assertNoCanaryIn(what, text)
	}
}

// waitCondition waits until obj's condition typ has status and reason and its message holds
// every fragment, and returns the message.
func (w *world) waitCondition(obj client.Object, typ string, status metav1.ConditionStatus, reason string, timeout time.Duration, fragments ...string) string {
	w.t.Helper()
	var msg string
	testenv.Eventually(w.t, timeout, func() error {
		c, err := condition(obj, typ)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("%s/%s has no %s condition", obj.GetNamespace(), obj.GetName(), typ)
		}
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("%s/%s: %s=%s %s: %s", obj.GetNamespace(), obj.GetName(), typ, c.Status, c.Reason, c.Message)
		}
		for _, f := range fragments {
			if !strings.Contains(c.Message, f) {
				return fmt.Errorf("%s/%s: %s message %q does not name %q", obj.GetNamespace(), obj.GetName(), typ, c.Message, f)
			}
		}
		msg = c.Message
		return nil
	})
	return msg
}

// waitReady waits for Ready=True.
func (w *world) waitReady(obj client.Object, timeout time.Duration) {
	w.t.Helper()
	w.waitCondition(obj, meta.ReadyCondition, metav1.ConditionTrue, "", timeout)
}

// condition reads obj afresh and returns its condition typ.
func condition(obj client.Object, typ string) (*metav1.Condition, error) {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, err
	}
	getter, ok := obj.(interface{ GetConditions() []metav1.Condition })
	if !ok {
		return nil, fmt.Errorf("%T has no conditions", obj)
	}
	return apimeta.FindStatusCondition(getter.GetConditions(), typ), nil
}

// applied is a Kustomization's last good state: what it applied, at which revision, and the
// resourceVersion of every object it manages.
type applied struct {
	revision  string
	inventory []string
	versions  map[string]string
}

// lastGood reads a Kustomization's applied state.
func (w *world) lastGood(k *kustomizev1.Kustomization) applied {
	w.t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(k), k); err != nil {
		w.t.Fatal(err)
	}
	a := applied{revision: k.Status.LastAppliedRevision, versions: map[string]string{}}
	if k.Status.Inventory != nil {
		for _, e := range k.Status.Inventory.Entries {
			a.inventory = append(a.inventory, e.ID)
			id, err := apply.ParseID(e.ID)
			if err != nil {
				w.t.Fatal(err)
			}
			obj := id.Object(e.Version)
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: id.Namespace, Name: id.Name}, obj); err != nil {
				w.t.Fatalf("managed object %s: %v", e.ID, err)
			}
			a.versions[e.ID] = obj.GetResourceVersion()
		}
	}
	return a
}

// assertKept is the last-good-state oracle: the Kustomization still records the same revision
// and inventory, and no managed object was changed or deleted.
func (w *world) assertKept(k *kustomizev1.Kustomization, before applied) {
	w.t.Helper()
	now := w.lastGood(k)
	if now.revision != before.revision {
		w.t.Errorf("lastAppliedRevision moved from %s to %s during the fault", before.revision, now.revision)
	}
	if strings.Join(now.inventory, ",") != strings.Join(before.inventory, ",") {
		w.t.Errorf("inventory changed during the fault: %v → %v", before.inventory, now.inventory)
	}
	for id, v := range before.versions {
		if now.versions[id] != v {
			w.t.Errorf("managed object %s changed during the fault (resourceVersion %s → %s)", id, v, now.versions[id])
		}
	}
}

// weir runs the weir CLI and records its output for the canary oracle.
func (w *world) weir(args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, weirBin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("weir %v: %v", args, err)
	}
	w.record("weir "+strings.Join(args, " "), string(out))
	return string(out), code
}

// notifications starts an HTTP server standing in for a chat provider and a Provider and
// Alert that send it every event of the case's namespace; every body it receives is recorded
// for the canary oracle and returned by the function.
func (w *world) notifications() func() []string {
	w.t.Helper()
	var mu sync.Mutex
	var bodies []string
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.record("notification", string(b))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	w.t.Cleanup(func() { _ = srv.Close() })
	for _, y := range []string{fmt.Sprintf(`apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: sink, namespace: %s, labels: {%s: %s}}
spec: {type: generic, address: "http://%s/"}`, w.ns, caseLabel, w.id, l.Addr()),
		fmt.Sprintf(`apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: all, namespace: %s, labels: {%s: %s}}
spec:
  providerRef: {name: sink}
  eventSeverity: info
  eventSources: [{kind: GitRepository, name: "*"}, {kind: Kustomization, name: "*"}, {kind: HelmRelease, name: "*"}, {kind: OCIRepository, name: "*"}, {kind: Bucket, name: "*"}]`, w.ns, caseLabel, w.id)} {
		obj := &unstructured.Unstructured{}
		if err := yamlUnmarshal(y, &obj.Object); err != nil {
			w.t.Fatal(err)
		}
		if err := env.Client.Create(w.t.Context(), obj); err != nil {
			w.t.Fatal(err)
		}
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

func yamlUnmarshal(y string, into *map[string]any) error { return yaml.Unmarshal([]byte(y), into) }

// commit commits files to the repository's main branch and asks its GitRepository to fetch at
// once, as a push webhook would.
func (w *world) commit(repo *gitserver.Repo, message string, files map[string]string) string {
	w.t.Helper()
	rev := repo.Commit("main", message, files)
	env.RequestReconcile(w.t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: repo.Name}})
	return rev
}

// assertTempClean is the temporary-files oracle: the controller's --temp-dir holds nothing but
// the scratch directory of the running process p (internal/scratch: those of killed processes
// are removed when the next one starts), that directory nothing but its lock and the workspace
// root, and that root at most trees unpacked artifacts (builds share them and drop them a
// while after their last use); nothing else — no clone, no half-written file — is left behind.
func (w *world) assertTempClean(p *process, trees int) {
	w.t.Helper()
	entries, err := os.ReadDir(w.tempDir())
	if err != nil {
		w.t.Fatal(err)
	}
	scratch := fmt.Sprintf("weir-scratch-%d-", p.cmd.Process.Pid)
	workspaces := fmt.Sprintf("weir-workspaces-%d", p.cmd.Process.Pid)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), scratch) {
			w.t.Errorf("left in the temporary directory: %s", e.Name())
			continue
		}
		own := filepath.Join(w.tempDir(), e.Name())
		inside, err := os.ReadDir(own)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, i := range inside {
			if i.Name() != ".lock" && i.Name() != workspaces {
				w.t.Errorf("left in the scratch directory: %s", i.Name())
			}
		}
		trees0, err := os.ReadDir(filepath.Join(own, workspaces))
		if err != nil {
			continue // no build yet
		}
		var names []string
		for _, i := range trees0 {
			names = append(names, i.Name())
			if !strings.HasPrefix(i.Name(), "artifact-") || !i.IsDir() {
				w.t.Errorf("left in the workspace root: %s", i.Name())
			}
		}
		if len(trees0) > trees {
			w.t.Errorf("%d trees in the workspace root, want at most %d: %v", len(trees0), trees, names)
		}
	}
}

// createYAML creates objects written as YAML, labelled for the case; a document without a
// namespace lands in the case's.
func (w *world) createYAML(docs ...string) {
	w.t.Helper()
	for _, y := range docs {
		obj := &unstructured.Unstructured{}
		if err := yamlUnmarshal(y, &obj.Object); err != nil {
			w.t.Fatalf("%v in\n%s", err, y)
		}
		w.create(obj)
	}
}

// object is an unstructured object of kind apiVersion/kind, to wait on.
func object(apiVersion, kind, namespace, name string) *conditioned {
	u := &conditioned{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// conditioned is an unstructured object whose status conditions waitCondition reads.
type conditioned struct{ unstructured.Unstructured }

func (c *conditioned) DeepCopyObject() runtime.Object {
	return &conditioned{*c.DeepCopy()}
}

// GetConditions returns status.conditions.
func (c *conditioned) GetConditions() []metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
	var out []metav1.Condition
	for _, r := range raw {
		m, _ := r.(map[string]any)
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond); err == nil {
			out = append(out, cond)
		}
	}
	return out
}

// clientKey is obj's namespace and name.
func clientKey(obj client.Object) client.ObjectKey { return client.ObjectKeyFromObject(obj) }

// waitConfigMapValue waits until the case's ConfigMap name holds value under "value" (what
// configMap writes), and says what is there meanwhile.
func (w *world) waitConfigMapValue(name, value string, timeout time.Duration) {
	w.t.Helper()
	testenv.Eventually(w.t, timeout, func() error {
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(w.t.Context(), client.ObjectKey{Namespace: w.ns, Name: name}, cm); err != nil {
			return err
		}
		if cm.Data["value"] != value {
			return fmt.Errorf("ConfigMap %s holds %q, want %q", name, cm.Data["value"], value)
		}
		return nil
	})
}
