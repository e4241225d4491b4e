//go:build faults

package faults_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestSecretsNeverShown puts the canary where weir handles it as a secret and makes each use
// fail, so that error paths — the ones that quote what they were given — run: Git credentials a
// server refuses, a credential in a GitRepository's URL, a Secret the API server rejects whose
// value is the canary, a substituteFrom Secret whose value lands in an object that fails to
// apply, a Provider whose address (from a Secret) carries the canary as a token and does not
// answer, and `weir diff`, `weir get`, `weir events` and `weir tree` over all of it.
// Oracles: every object reports Ready=False with a message naming its object, and the canary
// appears in no object of the cluster outside its own Secrets, no event, no log line of the
// controller, no notification and no CLI output.
func TestSecretsNeverShown(t *testing.T) {
	w := newWorld(t)
	locked := w.git.NewRepo("locked")
	locked.Commit("main", "initial", map[string]string{"a.yaml": configMap("a", "x")})
	lockedHTTP := w.git.ServeHTTP(gitserver.HTTPOptions{Username: "weir", Password: "the-right-one"})

	b64 := base64.StdEncoding.EncodeToString([]byte(w.canary))
	w.repo("secrets", map[string]string{
		// A Secret whose data the API server refuses (not base64): servers quote values.
		"rejected/kustomization.yaml": kustomizationFile("resources: [secret.yaml]\n"),
		"rejected/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: rejected\ndata:\n  password: \"" + w.canary + "!\"\n",
		// A substituted Secret value that lands in an object the API server refuses.
		"substituted/kustomization.yaml": kustomizationFile("resources: [bad.yaml]\n"),
		"substituted/bad.yaml":           "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  type: ${token}\n  ports: [{port: 80}]\n",
		// The canary in a Secret and in a ConfigMap key of the same apply, which fails later.
		"same-apply/kustomization.yaml": kustomizationFile("resources: [secret.yaml, bad.yaml]\n"),
		"same-apply/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: same-apply\ndata:\n  token: " + b64 + "\n",
		"same-apply/bad.yaml":           "apiVersion: v1\nkind: Service\nmetadata:\n  name: same-apply\nspec:\n  type: \"" + w.canary + "\"\n  ports: [{port: 80}]\n",
	})
	w.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git-credentials"}, StringData: map[string]string{"username": "weir", "password": w.canary}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vars"}, StringData: map[string]string{"token": w.canary}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "provider-address"}, StringData: map[string]string{"address": "http://127.0.0.1:1/hooks/" + w.canary}})
	w.createYAML(
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: refused-credentials}\nspec: {url: %q, interval: 1h, ref: {branch: main}, secretRef: {name: git-credentials}}", lockedHTTP.RepoURL("locked")),
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: url-credentials}\nspec: {url: %q, interval: 1h, ref: {branch: main}}",
			"http://weir:"+w.canary+"@"+lockedHTTP.RepoURL("locked")[len("http://"):]),
		"apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: leaky}\nspec: {type: generic, secretRef: {name: provider-address}}",
		"apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: leaky}\nspec: {providerRef: {name: leaky}, eventSeverity: info, eventSources: [{kind: Kustomization, name: '*'}, {kind: GitRepository, name: '*'}]}",
	)
	w.notifications()
	rejected := w.kustomization("rejected", "secrets", "./rejected")
	substituted := w.kustomization("substituted", "secrets", "./substituted")
	if err := env.Client.Patch(t.Context(), substituted, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"postBuild":{"substituteFrom":[{"kind":"Secret","name":"vars"}]}}}`))); err != nil {
		t.Fatal(err)
	}
	sameApply := w.kustomization("same-apply", "secrets", "./same-apply")
	p := w.start(nil)

	w.waitCondition(object("source.toolkit.fluxcd.io/v1", "GitRepository", w.ns, "refused-credentials"), meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "authentication")
	w.waitCondition(object("source.toolkit.fluxcd.io/v1", "GitRepository", w.ns, "url-credentials"), meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute)
	w.waitCondition(rejected, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "Secret")
	w.waitCondition(substituted, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "Service")
	w.waitCondition(sameApply, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "Service")

	// The CLI over all of it, as a user would look at a failure.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "same-apply"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"kustomization.yaml": kustomizationFile("resources: [secret.yaml]\n"),
		"secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: same-apply\ndata:\n  token: " + base64.StdEncoding.EncodeToString([]byte(w.canary+"-changed")) + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, "same-apply", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.weir("diff", "kustomization", "same-apply", "-n", w.ns, "--path", filepath.Join(dir, "same-apply"))
	w.weir("get", "all", "-n", w.ns)
	w.weir("get", "sources", "git", "-n", w.ns)
	w.weir("events", "-n", w.ns)
	w.weir("tree", "kustomization", "same-apply", "-n", w.ns)
	w.weir("logs", "--kind", "Kustomization", "-n", w.ns)
	w.assertNoCanaryIn("controller log", p.log.String())
	w.assertNoCanary()
}
