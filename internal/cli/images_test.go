package cli_test

import (
	"strings"
	"testing"
)

// createWithStatus creates an object from YAML and writes the given status.
func createWithStatus(t *testing.T, ns, doc string, status map[string]any) {
	t.Helper()
	u := decodeDocs(t, doc)[0]
	u.SetNamespace(ns)
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	u.Object["status"] = status
	if err := env.Client.Status().Update(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

func readyCondition(msg string) []any {
	return []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded", "message": msg,
		"lastTransitionTime": "2026-11-20T10:00:00Z"}}
}

func TestGetImages(t *testing.T) {
	ns := env.Namespace(t)
	createWithStatus(t, ns, `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: podinfo}
spec: {image: ghcr.io/stefanprodan/podinfo, interval: 5m}
`, map[string]any{"conditions": readyCondition("successful scan: found 3 tags"),
		"lastScanResult": map[string]any{"tagCount": int64(3), "scanTime": "2026-11-20T10:00:00Z"}})
	createWithStatus(t, ns, `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: podinfo}
spec: {imageRepositoryRef: {name: podinfo}, policy: {semver: {range: 6.x}}}
`, map[string]any{"conditions": readyCondition("Latest image tag for ghcr.io/stefanprodan/podinfo resolved to 6.5.0"),
		"latestRef": map[string]any{"name": "ghcr.io/stefanprodan/podinfo", "tag": "6.5.0"}})
	createWithStatus(t, ns, `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: podinfo}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: podinfo}
  git: {commit: {author: {name: weir, email: weir@example.com}}}
`, map[string]any{"conditions": readyCondition("repository up-to-date"), "lastAutomationRunTime": "2026-11-20T10:00:00Z"})

	out, errOut, code := weir(t, nil, "get", "images", "all", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "get_images_all.golden", ns, out)

	out, errOut, code = weir(t, nil, "get", "image", "policy", "-n", ns, "-o", "yaml")
	if code != 0 || !strings.Contains(out, "kind: List") || !strings.Contains(out, "kind: ImagePolicy") {
		t.Errorf("-o yaml: exit %d\n%s%s", code, out, errOut)
	}
}

func TestEventsWatchAndResumeAll(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	event(t, ns, "e1", "GitRepository", "source.toolkit.fluxcd.io/v1", "podinfo", "Normal", "NewArtifact", "stored artifact", 1)
	out, errOut, code := weir(t, nil, "events", "--watch", "--timeout=2s", "-n", ns)
	if code != 0 || !strings.HasPrefix(out, "LAST SEEN") || !strings.Contains(out, "GitRepository/podinfo") {
		t.Errorf("events --watch: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, errOut, code = weir(t, nil, "suspend", "ks", "--all", "-n", ns)
	if code != 0 || !strings.Contains(out, "✔ kustomization suspended") {
		t.Fatalf("suspend ks --all: exit %d\n%s%s", code, out, errOut)
	}
	fakeController(t, ksKindGVK, ns, "apps", map[string]any{"lastAppliedRevision": rev1})
	out, errOut, code = weir(t, nil, "resume", "ks", "--all", "-n", ns)
	if code != 0 || !strings.Contains(out, "► resuming kustomization apps in "+ns+" namespace") ||
		!strings.Contains(out, "✔ applied revision "+rev1) {
		t.Fatalf("resume ks --all: exit %d\n%s%s", code, out, errOut)
	}
}
