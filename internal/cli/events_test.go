package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func event(t *testing.T, ns, name, kind, apiVersion, obj, typ, reason, msg string, ago int) {
	t.Helper()
	ts := metav1.NewTime(metav1.Now().Add(-timeMinutes(ago)))
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, APIVersion: apiVersion, Name: obj, Namespace: ns},
		Type:           typ, Reason: reason, Message: msg, FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
		Source: corev1.EventSource{Component: "weir"},
	}
	if err := env.Client.Create(t.Context(), e); err != nil {
		t.Fatal(err)
	}
}

func TestEvents(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	event(t, ns, "e1", "GitRepository", "source.toolkit.fluxcd.io/v1", "podinfo", "Normal", "NewArtifact", "stored artifact for commit 'init'", 10)
	event(t, ns, "e2", "Kustomization", "kustomize.toolkit.fluxcd.io/v1", "apps", "Normal", "ReconciliationSucceeded", "Reconciliation finished", 5)
	event(t, ns, "e3", "GitRepository", "source.toolkit.fluxcd.io/v1", "broken", "Warning", "AuthenticationFailed", "authentication required", 3)
	event(t, ns, "e4", "Pod", "v1", "web", "Normal", "Pulled", "image pulled", 1)

	strip := func(out string) string {
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(l, "\t")
			b.WriteString(strings.Join(trimAll(f[1:]), " | ") + "\n")
		}
		return b.String()
	}
	out, errOut, code := weir(t, nil, "events", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "LAST SEEN") {
		t.Errorf("header: %q", out)
	}
	golden(t, "events.golden", ns, strip(out))

	out, errOut, code = weir(t, nil, "events", "--for", "Kustomization/apps", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "events_for_kustomization.golden", ns, strip(out))

	out, errOut, code = weir(t, nil, "events", "--types", "Warning", "-n", ns)
	if code != 0 || !strings.Contains(out, "AuthenticationFailed") || strings.Contains(out, "NewArtifact") || strings.Contains(out, "ReconciliationSucceeded") {
		t.Errorf("--types Warning: exit %d, stderr %q\n%s", code, errOut, out)
	}
	// Types are matched case-insensitively, as flux's.
	out, errOut, code = weir(t, nil, "events", "--types", "warning", "-n", ns)
	if code != 0 || !strings.Contains(out, "AuthenticationFailed") || strings.Contains(out, "NewArtifact") {
		t.Errorf("--types warning: exit %d, stderr %q\n%s", code, errOut, out)
	}
	if _, errOut, code := weir(t, nil, "events", "--types", "Loud", "-n", ns); code == 0 || !strings.Contains(errOut, "type 'Loud' not supported") {
		t.Errorf("--types Loud: exit %d, %q", code, errOut)
	}

	// --for Kind: the events of every object of the kind.
	out, errOut, code = weir(t, nil, "events", "--for", "Kustomization", "-n", ns)
	if code != 0 || !strings.Contains(out, "Kustomization/") || strings.Contains(out, "GitRepository/") {
		t.Errorf("--for Kustomization: exit %d, stderr %q\n%s", code, errOut, out)
	}
	if _, errOut, code := weir(t, nil, "events", "--for", "Deployment", "-n", ns); code == 0 || !strings.Contains(errOut, "'Deployment' is not a recognized Flux kind") {
		t.Errorf("--for Deployment: exit %d, %q", code, errOut)
	}
	empty := env.Namespace(t)
	if _, errOut, code := weir(t, nil, "events", "-n", empty); code != 0 || !strings.Contains(errOut, "✗ No events found in "+empty+" namespace.") {
		t.Errorf("no events: exit %d, %q", code, errOut)
	}
}

func trimAll(s []string) []string {
	for i := range s {
		s[i] = strings.TrimSpace(s[i])
	}
	return s
}

func TestLogsFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weir.log")
	lines := `{"level":"info","ts":"2026-11-20T10:00:00.000Z","msg":"stored artifact","controller":"gitrepository","GitRepository":{"name":"podinfo","namespace":"flux-system"},"name":"podinfo","namespace":"flux-system","reconcileID":"a1","revision":"main@sha1:abc"}
{"level":"error","ts":"2026-11-20T10:00:01.000Z","msg":"apply failed","controller":"kustomization","Kustomization":{"name":"apps","namespace":"flux-system"},"name":"apps","namespace":"flux-system","reconcileID":"b2"}
{"level":"info","ts":1763632802.5,"msg":"applied","controller":"kustomization","name":"infra","namespace":"other","reconcileID":"c3"}
not json
{"level":"info","ts":"2026-11-20T10:00:03.000Z","msg":"starting manager"}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"all", []string{"-A"}},
		{"kind", []string{"--kind", "kustomization", "-A"}},
		{"level", []string{"--level", "error"}},
		{"name_ns", []string{"--name", "infra", "-n", "other"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := weir(t, nil, append([]string{"logs", "--from-file", path}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, "logs_"+tc.name+".golden", "flux-system-never", out)
		})
	}
}

func TestLogsWithoutController(t *testing.T) {
	ns := env.Namespace(t)
	_, errOut, code := weir(t, nil, "logs", "--flux-namespace", ns)
	if code == 0 || !strings.Contains(errOut, "deployment "+ns+"/weir") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("logs without a controller: exit %d, %q", code, errOut)
	}
}
