package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// replica is one `weir controller` process of an HA set.
type replica struct {
	cmd *exec.Cmd
	log *syncBuffer
}

// syncBuffer is a log both the process and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lease timings of the HA test: a killed leader is replaced within lease + retry.
const (
	haLease = 6 * time.Second
	haRenew = 4 * time.Second
	haRetry = 1 * time.Second
)

// startReplica starts `weir controller` (GitRepository and Kustomization controllers) with
// args added to its own ports and storage.
func startReplica(t *testing.T, ns string, args ...string) *replica {
	t.Helper()
	storage := freePort(t)
	r := &replica{log: &syncBuffer{}}
	r.cmd = exec.Command(weirBin, append([]string{"controller", "--kubeconfig", env.Kubeconfig,
		"--controllers", "gitrepository,kustomization",
		"--health-addr", freePort(t), "--metrics-addr", freePort(t), "--storage-addr", storage, "--storage-adv-addr", storage,
		"--receiver-addr", freePort(t), "--events-listen-addr", freePort(t),
		"--storage-path", filepath.Join(t.TempDir(), "storage"), "--log-encoding", "json"}, args...)...)
	r.cmd.Env = append(os.Environ(), "RUNTIME_NAMESPACE="+ns)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_, _ = r.cmd.Process.Wait()
	})
	return r
}

// leaderReplica starts a replica electing a leader on the Lease leaseID.
func leaderReplica(t *testing.T, ns, leaseID string) *replica {
	t.Helper()
	return startReplica(t, ns, "--watch-all-namespaces=false", "--enable-leader-election", "--leader-election-id", leaseID,
		"--leader-election-lease-duration", haLease.String(), "--leader-election-renew-deadline", haRenew.String(),
		"--leader-election-retry-period", haRetry.String())
}

// leading reports whether the replica started its controllers: only the leader does.
func (r *replica) leading() bool { return strings.Contains(r.log.String(), "Starting workers") }

// holder reads the Lease's holder.
func holder(t *testing.T, ns, id string) string {
	t.Helper()
	var l coordinationv1.Lease
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: id}, &l); err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// TestHighAvailability runs three replicas with leader election: one leads and reconciles, the
// others wait; SIGTERM hands the lease over at once; a SIGKILLed leader is replaced within the
// lease; after each change a new commit is applied.
func TestHighAvailability(t *testing.T) {
	ns := env.Namespace(t)
	const leaseID = "weir-ha-test"
	replicas := []*replica{leaderReplica(t, ns, leaseID), leaderReplica(t, ns, leaseID), leaderReplica(t, ns, leaseID)}

	root := gitserver.NewRoot(t)
	repo := root.NewRepo("fleet")
	repo.Commit("main", "v1", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ha\ndata:\n  v: \"1\"\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	run := func(args ...string) {
		t.Helper()
		if out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...); code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	run("create", "source", "git", "fleet", "--url", srv.RepoURL("fleet"), "--branch", "main", "--interval", "1h")
	run("create", "kustomization", "app", "--source", "GitRepository/fleet", "--path", "./app", "--prune",
		"--target-namespace", ns, "--interval", "1h")
	applied := func(v string) {
		t.Helper()
		testenv.Eventually(t, time.Minute, func() error {
			var cm corev1.ConfigMap
			if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "ha"}, &cm); err != nil {
				return err
			}
			if cm.Data["v"] != v {
				return fmt.Errorf("ConfigMap v = %q, want %q", cm.Data["v"], v)
			}
			return nil
		})
	}
	applied("1")
	leaders := func() []int {
		var out []int
		for i, r := range replicas {
			if r != nil && r.leading() {
				out = append(out, i)
			}
		}
		return out
	}
	if l := leaders(); len(l) != 1 {
		t.Fatalf("replicas leading: %v, want exactly one", l)
	}
	first := leaders()[0]
	before := holder(t, ns, leaseID)

	// SIGTERM: the leader releases the lease on its way out; another takes it at once.
	start := time.Now()
	if err := replicas[first].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, haLease, func() error {
		if h := holder(t, ns, leaseID); h == "" || h == before {
			return fmt.Errorf("lease still held by %q", h)
		}
		return nil
	})
	if took := time.Since(start); took > 2*haRetry+2*time.Second {
		t.Errorf("SIGTERM handover took %s, want about the retry period (%s)", took, haRetry)
	}
	_, _ = replicas[first].cmd.Process.Wait()
	replicas[first] = nil
	repo.Commit("main", "v2", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ha\ndata:\n  v: \"2\"\n"})
	run("reconcile", "kustomization", "app", "--with-source")
	applied("2")
	if l := leaders(); len(l) != 1 {
		t.Fatalf("after the handover, replicas leading: %v, want exactly one", l)
	}

	// SIGKILL: no release; the lease expires and the last replica takes over within it.
	second := leaders()[0]
	before = holder(t, ns, leaseID)
	start = time.Now()
	if err := replicas[second].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = replicas[second].cmd.Process.Wait()
	replicas[second] = nil
	testenv.Eventually(t, 3*haLease, func() error {
		if h := holder(t, ns, leaseID); h == "" || h == before {
			return fmt.Errorf("lease still held by %q", h)
		}
		return nil
	})
	if took := time.Since(start); took > haLease+2*haRetry+2*time.Second {
		t.Errorf("replacing a killed leader took %s, want within the lease (%s) and a retry", took, haLease)
	}
	repo.Commit("main", "v3", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ha\ndata:\n  v: \"3\"\n"})
	run("reconcile", "kustomization", "app", "--with-source")
	applied("3")
}

// TestSharding runs two replicas with Flux's sharding convention: each reconciles only the
// objects whose sharding.fluxcd.io/key matches its --watch-label-selector.
func TestSharding(t *testing.T) {
	ns := env.Namespace(t)
	start := func(shard string) *replica {
		return startReplica(t, ns, "--watch-label-selector", "sharding.fluxcd.io/key="+shard)
	}
	shards := map[string]*replica{"shard1": start("shard1"), "shard2": start("shard2")}
	root := gitserver.NewRoot(t)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	for shard := range shards {
		root.NewRepo(shard).Commit("main", "init", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + shard + "\n"})
		for _, args := range [][]string{
			{"create", "source", "git", shard, "--url", srv.RepoURL(shard), "--branch", "main", "--interval", "1h", "--label", "sharding.fluxcd.io/key=" + shard},
			{"create", "kustomization", shard, "--source", "GitRepository/" + shard, "--path", "./app", "--prune", "--target-namespace", ns,
				"--interval", "1h", "--label", "sharding.fluxcd.io/key=" + shard},
		} {
			if out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...); code != 0 {
				t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
			}
		}
	}
	for shard, r := range shards {
		other := "shard2"
		if shard == "shard2" {
			other = "shard1"
		}
		log := r.log.String()
		if !strings.Contains(log, `"name":"`+shard+`"`) {
			t.Errorf("replica %s did not reconcile its own objects", shard)
		}
		if strings.Contains(log, `"name":"`+other+`"`) {
			t.Errorf("replica %s reconciled %s's objects", shard, other)
		}
	}
}
