package cli_test

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
)

// runController starts `weir controller` with its artifact store at storage and its output to
// logs (discarded when nil) and waits until it is ready; the test may kill it, and the cleanup
// kills what is left.
func runController(t *testing.T, storage string, logs io.Writer) *exec.Cmd {
	t.Helper()
	health := freePort(t)
	cmd := exec.Command(weirBin, "controller", "--kubeconfig", env.Kubeconfig,
		"--health-addr", health, "--metrics-addr", freePort(t),
		"--storage-addr", freePort(t), "--receiver-addr", freePort(t),
		"--storage-path", storage, "--log-encoding", "json")
	cmd.Env = append(cmd.Environ(), "RUNTIME_NAMESPACE=default")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	testenv.Eventually(t, 60*time.Second, func() error {
		code, err := testenv.HTTPGet(t.Context(), "http://"+health+"/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("readyz: %d", code)
		}
		return nil
	})
	return cmd
}

// TestHelmReleaseSurvivesKillMidUpgrade kills `weir controller` with SIGKILL while an upgrade
// waits (a Deployment that never becomes Available: this control plane has no kubelet), so
// the release is left pending-upgrade, as a crash leaves it. After a restart and a new chart
// version, the release is unlocked and upgraded: Ready on the new version, and the history
// shows the interrupted upgrade as failed.
func TestHelmReleaseSurvivesKillMidUpgrade(t *testing.T) {
	ns := env.Namespace(t)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n"
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: x}\n  template:\n    metadata:\n      labels: {app: x}\n    spec:\n      containers:\n      - name: x\n        image: busybox\n"
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, chartrepo.Chart{Name: "app", Version: "1.0.0", Files: map[string]string{"templates/cm.yaml": cm}})
	storage := t.TempDir()
	ctrl := runController(t, storage, nil)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...)
		if code != 0 {
			t.Fatalf("weir %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	run("create", "source", "helm", "charts", "--url", charts.URL(), "--interval", "1h")
	run("create", "helmrelease", "app", "--source", "HelmRepository/charts", "--chart", "app", "--interval", "1h")

	// 2.0.0 adds a Deployment the upgrade waits on, for ever here.
	charts.Add(t, chartrepo.Chart{Name: "app", Version: "2.0.0", Files: map[string]string{"templates/cm.yaml": cm, "templates/deploy.yaml": deploy}})
	go func() { _, _, _ = weir(t, nil, "reconcile", "source", "helm", "charts", "-n", ns, "--timeout", "2m") }()
	testenv.Eventually(t, 90*time.Second, func() error {
		n, err := pendingRecords(t, ns)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no pending-upgrade release record yet")
		}
		return nil
	})
	if err := ctrl.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = ctrl.Wait()

	// A new version while the controller is down, then a restart.
	charts.Add(t, chartrepo.Chart{Name: "app", Version: "3.0.0", Files: map[string]string{"templates/cm.yaml": cm}})
	runController(t, storage, nil)
	run("reconcile", "source", "helm", "charts")
	testenv.Eventually(t, 120*time.Second, func() error {
		out, _, _ := weir(t, nil, "get", "helmreleases", "-n", ns)
		if !strings.Contains(out, "3.0.0") || !strings.Contains(out, "True") {
			return fmt.Errorf("get helmreleases:\n%s", out)
		}
		return nil
	})
	history, err := releaseHistory(t, ns, "app")
	if err != nil {
		t.Fatal(err)
	}
	// The upgrade after the restart may start on the old chart before the new one is fetched:
	// interrupted, Helm records it failed if it got as far as writing its record (how far it
	// gets is a race). The newest record is the deployed new chart.
	latest := 0
	for v := range history {
		latest = max(latest, v)
	}
	ok := strings.Contains(history[2], "failed Release unlocked from stale 'pending-upgrade' state") &&
		strings.HasPrefix(history[latest], "deployed")
	for v := 3; v < latest; v++ {
		ok = ok && strings.HasPrefix(history[v], "failed")
	}
	if !ok {
		t.Errorf("release history after the crash: %v", history)
	}
}

// pendingRecords counts the release records of ns that Helm marked pending-upgrade.
func pendingRecords(t *testing.T, ns string) (int, error) {
	var list corev1.SecretList
	err := env.Client.List(t.Context(), &list, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "status": "pending-upgrade"})
	return len(list.Items), err
}

// releaseHistory reads a release's records as the helm CLI does: version → "status description".
func releaseHistory(t *testing.T, ns, name string) (map[int]string, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &env.Kubeconfig, &ns
	ac := action.NewConfiguration()
	if err := ac.Init(flags, ns, "secret"); err != nil {
		return nil, err
	}
	hist, err := ac.Releases.History(name)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, h := range hist {
		r := h.(*releasev1.Release)
		out[r.Version] = r.Info.Status.String() + " " + r.Info.Description
	}
	return out, nil
}
