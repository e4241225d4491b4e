package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// shardReplica starts a replica with automatic sharding and the HA test's lease timings,
// logging every reconcile's start and end (debug).
func shardReplica(t *testing.T, ns string) *replica {
	t.Helper()
	return startReplica(t, ns, "--watch-all-namespaces=false", "--auto-shard", "--auto-shard-group", ns,
		"--leader-election-lease-duration", haLease.String(), "--leader-election-renew-deadline", haRenew.String(),
		"--leader-election-retry-period", haRetry.String(), "--log-level", "debug")
}

// logLine is what the test reads of a replica's JSON log line.
type logLine struct {
	TS          string `json:"ts"`
	Msg         string `json:"msg"`
	Controller  string `json:"controller"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	ReconcileID string `json:"reconcileID"`
	Replica     string `json:"replica"`
	Members     int    `json:"members"`
	Converged   bool   `json:"converged"`
}

func (r *replica) lines(t *testing.T) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(r.log.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// converged reports whether the replica's last view change says it acts on a converged view of
// n members.
func (r *replica) converged(t *testing.T, n int) bool {
	t.Helper()
	last := logLine{}
	for _, l := range r.lines(t) {
		if l.Msg == "shard view changed" {
			last = l
		}
	}
	return last.Converged && last.Members == n
}

// span is one reconcile of one object by one replica, from its start line to its end line.
type span struct {
	replica    int
	start, end time.Time
}

// spans returns every reconcile in the replicas' logs by object ("controller ns/name"); a
// reconcile without an end line ends at cut (the replica was killed), or now.
func spans(t *testing.T, replicas []*replica, cut map[int]time.Time) map[string][]span {
	t.Helper()
	parse := func(s string) time.Time {
		ts, err := time.Parse("2006-01-02T15:04:05.000Z0700", s)
		if err != nil {
			t.Fatalf("log timestamp %q: %v", s, err)
		}
		return ts
	}
	out := map[string][]span{}
	for i, r := range replicas {
		open := map[string]logLine{}
		for _, l := range r.lines(t) {
			switch l.Msg {
			case "reconcile started":
				open[l.ReconcileID] = l
			case "reconcile finished":
				s, ok := open[l.ReconcileID]
				if !ok {
					t.Fatalf("replica %d: reconcile %s finished without starting", i, l.ReconcileID)
				}
				delete(open, l.ReconcileID)
				key := s.Controller + " " + s.Namespace + "/" + s.Name
				out[key] = append(out[key], span{replica: i, start: parse(s.TS), end: parse(l.TS)})
			}
		}
		for _, s := range open {
			end, ok := cut[i]
			if !ok {
				end = time.Now()
			}
			key := s.Controller + " " + s.Namespace + "/" + s.Name
			out[key] = append(out[key], span{replica: i, start: parse(s.TS), end: end})
		}
	}
	return out
}

// reconciledBy returns the replicas that reconciled the object key, starting at or after since.
func reconciledBy(all map[string][]span, key string, since time.Time) []int {
	var out []int
	for _, s := range all[key] {
		if !s.start.Before(since) && !slices.Contains(out, s.replica) {
			out = append(out, s.replica)
		}
	}
	sort.Ints(out)
	return out
}

// TestAutoSharding runs three replicas with --auto-shard against one API server: they divide
// the GitRepositories between them, each Kustomization on its source's replica; a SIGKILLed
// replica's objects are taken over by the others within the lease; and no object is ever
// reconciled by two replicas at once (from every reconcile's start and end lines).
func TestAutoSharding(t *testing.T) {
	ns := env.Namespace(t)
	replicas := []*replica{shardReplica(t, ns), shardReplica(t, ns), shardReplica(t, ns)}
	testenv.Eventually(t, time.Minute, func() error {
		for i, r := range replicas {
			if !r.converged(t, 3) {
				return fmt.Errorf("replica %d has not converged on a view of 3 members", i)
			}
		}
		return nil
	})

	const repos = 18
	root := gitserver.NewRoot(t)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	gits := map[int]*gitserver.Repo{}
	commit := func(i int, v string) string {
		files := map[string]string{}
		for _, app := range apps(i) {
			files[app+"/cm.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r%d-%s\ndata:\n  v: %q\n", i, app, v)
		}
		if gits[i] == nil {
			gits[i] = root.NewRepo(fmt.Sprintf("r%d", i))
		}
		return gits[i].Commit("main", v, files)
	}
	heads := map[int]string{}
	for i := range repos {
		heads[i] = commit(i, "1")
		name := fmt.Sprintf("r%d", i)
		gr := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: sourcev1.GitRepositorySpec{URL: srv.RepoURL(name), Interval: metav1.Duration{Duration: time.Hour},
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}}
		if err := env.Client.Create(t.Context(), gr); err != nil {
			t.Fatal(err)
		}
		for _, app := range apps(i) {
			ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + app, Namespace: ns},
				Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Hour}, Path: "./" + app, Prune: true,
					TargetNamespace: ns, SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: name}}}
			if err := env.Client.Create(t.Context(), ks); err != nil {
				t.Fatal(err)
			}
		}
	}
	applied := func(timeout time.Duration) {
		t.Helper()
		testenv.Eventually(t, timeout, func() error {
			var list kustomizev1.KustomizationList
			if err := env.Client.List(t.Context(), &list, client.InNamespace(ns)); err != nil {
				return err
			}
			if len(list.Items) == 0 {
				return fmt.Errorf("no Kustomizations")
			}
			for _, ks := range list.Items {
				var i int
				if _, err := fmt.Sscanf(ks.Name, "r%d-", &i); err != nil {
					return err
				}
				ready := apimeta.IsStatusConditionTrue(ks.Status.Conditions, "Ready")
				if !ready || !strings.HasSuffix(ks.Status.LastAppliedRevision, heads[i]) {
					return fmt.Errorf("Kustomization %s: Ready=%v at %q, want %s", ks.Name, ready, ks.Status.LastAppliedRevision, heads[i])
				}
			}
			return nil
		})
	}
	applied(3 * time.Minute)

	// The work is divided, and each Kustomization ran where its source did.
	all := spans(t, replicas, nil)
	owner := map[int]int{}
	for i := range repos {
		src := reconciledBy(all, fmt.Sprintf("gitrepository %s/r%d", ns, i), time.Time{})
		if len(src) != 1 {
			t.Fatalf("GitRepository r%d reconciled by replicas %v, want one", i, src)
		}
		owner[i] = src[0]
		for _, app := range apps(i) {
			if ks := reconciledBy(all, fmt.Sprintf("kustomization %s/r%d-%s", ns, i, app), time.Time{}); !slices.Equal(ks, src) {
				t.Errorf("Kustomization r%d-%s reconciled by replicas %v, its source by %v", i, app, ks, src)
			}
		}
	}
	perReplica := map[int]int{}
	for _, r := range owner {
		perReplica[r]++
	}
	t.Logf("GitRepositories per replica: %v", perReplica)
	for i := range replicas {
		if perReplica[i] == 0 {
			t.Errorf("replica %d reconciled no GitRepository: the work is not divided", i)
		}
	}

	// SIGKILL the replica owning the most, push to every repository, ask for a reconcile: the
	// survivors take its objects over once its lease expires.
	victim := 0
	for r, n := range perReplica {
		if n > perReplica[victim] {
			victim = r
		}
	}
	if err := replicas[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = replicas[victim].cmd.Process.Wait()
	killed := time.Now()
	for i := range repos {
		heads[i] = commit(i, "2")
		env.RequestReconcile(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d", i), Namespace: ns}})
	}
	applied(haLease + 30*time.Second)
	took := time.Since(killed)
	t.Logf("all Kustomizations at the new revision %s after the kill (lease %s)", took.Round(time.Millisecond), haLease)

	all = spans(t, replicas, map[int]time.Time{victim: killed})
	for i, r := range owner {
		if r != victim {
			continue
		}
		src := reconciledBy(all, fmt.Sprintf("gitrepository %s/r%d", ns, i), killed)
		if len(src) != 1 || src[0] == victim {
			t.Errorf("after the kill, GitRepository r%d (the killed replica's) reconciled by %v, want one survivor", i, src)
		}
	}

	noOverlaps(t, all)
}

// noOverlaps checks that no object was reconciled by two replicas at overlapping times.
func noOverlaps(t *testing.T, all map[string][]span) {
	t.Helper()
	checked := 0
	for key, ss := range all {
		for a := range ss {
			for b := a + 1; b < len(ss); b++ {
				x, y := ss[a], ss[b]
				if x.replica != y.replica && x.start.Before(y.end) && y.start.Before(x.end) {
					t.Errorf("%s reconciled by replicas %d [%s, %s] and %d [%s, %s] at once", key,
						x.replica, x.start.Format(time.StampMilli), x.end.Format(time.StampMilli),
						y.replica, y.start.Format(time.StampMilli), y.end.Format(time.StampMilli))
				}
			}
		}
		checked += len(ss)
	}
	t.Logf("%d reconciles of %d objects checked for overlaps", checked, len(all))
}

// apps are the Kustomizations (and directories) of repository i: one or two.
func apps(i int) []string {
	if i%2 == 0 {
		return []string{"a", "b"}
	}
	return []string{"a"}
}
