//go:build faults

package faults_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// TestForbiddenReach gives weir, started with --no-remote-bases and --no-cross-namespace-refs,
// objects that reach for what they may not: a remote base on a Git server that is up and
// serving, a KRM exec function and a legacy plugin, a Helm chart generator inside kustomize;
// references into another namespace from a Kustomization (source and dependsOn), a HelmRelease
// (chartRef), an ImagePolicy and an ImageUpdateAutomation; a tenant's ServiceAccount applying a
// ClusterRole and a ConfigMap in another namespace; kubeconfig Secrets that run an exec plugin,
// read the controller's files as a token, or skip TLS verification, aimed at a server that
// records what it is sent.
// Oracles: each object is Ready=False with a message naming what was refused; nothing is
// created outside what the tenant may create; the recording server never sees a request
// carrying the canary, and the exec plugin never runs (its marker file never appears); the
// canary leaks nowhere.
func TestForbiddenReach(t *testing.T) {
	w := newWorld(t)
	other := env.Namespace(t)

	// A remote base that is reachable: refusing it is the flag's doing, not the network's.
	remote := w.git.NewRepo("remote-base")
	remote.Commit("main", "base", map[string]string{"kustomization.yaml": kustomizationFile("resources: [cm.yaml]\n"), "cm.yaml": configMap("remote", "x")})

	marker := w.base + "/exec-ran"
	w.repo("reach", map[string]string{
		"remote/kustomization.yaml": kustomizationFile(fmt.Sprintf("resources: [%q]\n", "git::"+w.http.RepoURL("remote-base")+"//?ref=main")),
		"krm/kustomization.yaml":    kustomizationFile("generators: [fn.yaml]\n"),
		"krm/fn.yaml": fmt.Sprintf(`apiVersion: faults.weir.dev/v1
kind: Leak
metadata:
  name: leak
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: /bin/sh -c "cat %s > %s"
`, w.Canary(), marker),
		"plugin/kustomization.yaml": kustomizationFile("generators: [plugin.yaml]\n"),
		"plugin/plugin.yaml":        "apiVersion: someteam.example.com/v1\nkind: SecretsFromCanary\nmetadata:\n  name: leak\nfile: " + w.Canary() + "\n",
		"helm/kustomization.yaml":   kustomizationFile("helmCharts:\n- name: podinfo\n  repo: https://stefanprodan.github.io/podinfo\n  version: 6.0.0\n"),
		"tenant/kustomization.yaml": kustomizationFile("resources: [cm.yaml, clusterrole.yaml, other.yaml]\n"),
		"tenant/cm.yaml":            configMap("tenant-own", "x"),
		"tenant/clusterrole.yaml":   "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: " + w.id + "-escalate\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n",
		"tenant/other.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tenant-elsewhere\n  namespace: canary\ndata: {x: y}\n",
		"plain/kustomization.yaml":  kustomizationFile("resources: [cm.yaml]\n"),
		"plain/cm.yaml":             configMap("plain", "x"),
	})

	// A tenant ServiceAccount that may edit its own namespace only.
	w.create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tenant"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tenant-edit"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tenant", Namespace: w.ns}}})

	// A server standing in for a remote cluster, recording every Authorization header.
	var mu sync.Mutex
	var seen []string
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization")+" "+r.URL.String()+" "+string(b))
		mu.Unlock()
		http.Error(rw, "no", http.StatusUnauthorized)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	kubeconfig := func(cluster, user string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: remote\n  cluster:\n    server: http://%s\n%s\nusers:\n- name: tenant\n  user:\n%s\ncontexts:\n- name: c\n  context: {cluster: remote, user: tenant}\ncurrent-context: c\n", l.Addr(), cluster, user)
	}
	kubeconfigs := map[string]string{
		"exec":       kubeconfig("", fmt.Sprintf("    exec: {apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never, command: /bin/sh, args: [-c, 'cp %s %s']}\n", w.Canary(), marker)),
		"token-file": kubeconfig("", "    tokenFile: "+w.Canary()+"\n"),
		"insecure":   kubeconfig("    insecure-skip-tls-verify: true", "    token: not-the-canary\n"),
	}
	for name, kc := range kubeconfigs {
		w.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kubeconfig-" + name}, StringData: map[string]string{"value": kc}})
	}

	reg := ociregistry.New(t, ociregistry.Options{})
	w.createYAML(
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: elsewhere, namespace: %s}\nspec: {url: %q, interval: 1h, ref: {branch: main}}", other, w.http.RepoURL("reach")),
		fmt.Sprintf("apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: chart, namespace: %s}\nspec: {url: %q, interval: 1h, insecure: true, ref: {tag: '1.0.0'}}", other, reg.URL("chart")),
		fmt.Sprintf("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: app, namespace: %s}\nspec: {image: %q, interval: 1h, insecure: true}", other, reg.Host()+"/app"),
		fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: dependency, namespace: %s}\nspec: {interval: 1h, path: ./plain, prune: true, targetNamespace: %s, sourceRef: {kind: GitRepository, name: reach, namespace: %s}}", other, other, w.ns),
	)

	type expect struct {
		obj       *conditioned
		fragments []string
	}
	var expects []expect
	ks := func(name, path, extra string, fragments ...string) {
		w.createYAML(fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: %s}\nspec:\n  interval: 1h\n  path: %s\n  prune: true\n  targetNamespace: %s\n  sourceRef: {kind: GitRepository, name: reach}\n%s", name, path, w.ns, extra))
		expects = append(expects, expect{object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", w.ns, name), fragments})
	}
	ks("remote-base", "./remote", "", "remote-base")
	ks("krm-function", "./krm", "", "external plugins disabled", "Leak")
	ks("legacy-plugin", "./plugin", "", "SecretsFromCanary")
	ks("helm-generator", "./helm", "", "helm")
	ks("tenant", "./tenant", "  serviceAccountName: tenant\n", "forbidden")
	expects = append(expects, expect{object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", w.ns, "cross-source"), []string{"cross-namespace references have been blocked"}})
	w.createYAML(fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: cross-source}\nspec: {interval: 1h, path: ./plain, prune: true, targetNamespace: %s, sourceRef: {kind: GitRepository, name: elsewhere, namespace: %s}}", w.ns, other))
	ks("cross-dependency", "./plain", fmt.Sprintf("  dependsOn: [{name: dependency, namespace: %s}]\n", other), "cross-namespace references have been blocked")
	for name := range kubeconfigs {
		ks("kubeconfig-"+name, "./plain", "  kubeConfig: {secretRef: {name: kubeconfig-"+name+"}}\n", map[string]string{
			"exec": "exec plugin", "token-file": "tokenFile", "insecure": "insecure-skip-tls-verify"}[name])
	}
	w.createYAML(fmt.Sprintf("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: cross-chart}\nspec: {interval: 1h, chartRef: {kind: OCIRepository, name: chart, namespace: %s}}", other),
		fmt.Sprintf("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: cross-image}\nspec: {imageRepositoryRef: {name: app, namespace: %s}, policy: {semver: {range: '>=1.0.0'}}}", other),
		fmt.Sprintf("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {name: cross-automation}\nspec: {interval: 1h, sourceRef: {kind: GitRepository, name: elsewhere, namespace: %s}, git: {commit: {author: {name: weir, email: weir@example.com}}}, update: {path: ./}}", other))
	expects = append(expects,
		expect{object("helm.toolkit.fluxcd.io/v2", "HelmRelease", w.ns, "cross-chart"), []string{"cross-namespace references have been blocked"}},
		expect{object("image.toolkit.fluxcd.io/v1", "ImagePolicy", w.ns, "cross-image"), []string{"cross-namespace references have been blocked"}},
		expect{object("image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation", w.ns, "cross-automation"), []string{"cross-namespace references have been blocked"}})

	// A Receiver that would wake a source of another namespace, and an Alert that would forward
	// the events of another namespace to the case's sink.
	w.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "receiver-token"}, StringData: map[string]string{"token": "receiver-token-1"}})
	w.createYAML(
		fmt.Sprintf("apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {name: cross-receiver}\nspec: {type: generic, secretRef: {name: receiver-token}, resources: [{apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: elsewhere, namespace: %s}]}", other),
		fmt.Sprintf("apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: cross-alert}\nspec: {providerRef: {name: sink}, eventSeverity: info, eventSources: [{kind: Kustomization, name: '*', namespace: %s}]}", other),
	)
	notified := w.notifications()
	p := w.start([]string{"--no-remote-bases", "--no-cross-namespace-refs"})
	for _, e := range expects {
		msg := w.waitCondition(e.obj, meta.ReadyCondition, metav1.ConditionFalse, "", 2*time.Minute, e.fragments...)
		t.Logf("%s/%s: %s", e.obj.GetKind(), e.obj.GetName(), msg)
	}

	// The Receiver refuses to wake the other namespace's source.
	rcv := object("notification.toolkit.fluxcd.io/v1", "Receiver", w.ns, "cross-receiver")
	w.waitReady(rcv, time.Minute)
	path, _, _ := unstructured.NestedString(rcv.Object, "status", "webhookPath")
	resp, err := http.Post("http://"+p.receiver+path, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("the cross-namespace Receiver answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	elsewhere := object("source.toolkit.fluxcd.io/v1", "GitRepository", other, "elsewhere")
	if err := env.Client.Get(t.Context(), clientKey(elsewhere), elsewhere); err != nil {
		t.Fatal(err)
	}
	if _, ok := elsewhere.GetAnnotations()["reconcile.fluxcd.io/requestedAt"]; ok || resp.StatusCode < 400 {
		t.Errorf("the Receiver reached a GitRepository of another namespace (status %d, annotations %v)", resp.StatusCode, elsewhere.GetAnnotations())
	}
	// The other namespace's Kustomization did reconcile and raise events (it is itself refused
	// its cross-namespace source), but none reached the sink through the cross-namespace Alert.
	w.waitCondition(object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", other, "dependency"), meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "cross-namespace")
	for _, b := range notified() {
		if strings.Contains(b, `"namespace":"`+other+`"`) {
			t.Errorf("an event of another namespace was forwarded: %s", b)
		}
	}

	// The tenant created nothing beyond its namespace.
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: w.id + "-escalate"}, &rbacv1.ClusterRole{}); !apierrors.IsNotFound(err) {
		t.Errorf("the tenant's ClusterRole exists or cannot be read: %v", err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "canary", Name: "tenant-elsewhere"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the tenant's ConfigMap in another namespace exists or cannot be read: %v", err)
	}
	if _, err := readFileIfExists(marker); err == nil {
		t.Error("an exec plugin or function ran: its marker file exists")
	}
	mu.Lock()
	for _, s := range seen {
		w.assertNoCanaryIn("a request to the kubeconfig's server", s)
	}
	mu.Unlock()
	w.assertNoCanary()
}

func readFileIfExists(p string) ([]byte, error) { return os.ReadFile(p) }
