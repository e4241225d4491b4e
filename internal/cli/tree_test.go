package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// withInventory creates a Kustomization whose status lists the given inventory ids.
func withInventory(t *testing.T, ns, name string, ids ...string) {
	t.Helper()
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Minute}, Path: "./" + name, Prune: true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "podinfo"}},
	}
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	inv := &kustomizev1.ResourceInventory{}
	for _, id := range ids {
		inv.Entries = append(inv.Entries, kustomizev1.ResourceRef{ID: id, Version: "v1"})
	}
	setReady(t, ks, &ks.Status.Conditions, metav1.ConditionTrue, "ReconciliationSucceeded", "Applied revision: "+rev1,
		func() { ks.Status.Inventory = inv; ks.Status.LastAppliedRevision = rev1 })
}

func TestTreeKustomization(t *testing.T) {
	ns := env.Namespace(t)
	withInventory(t, ns, "root",
		"_"+ns+"__Namespace",
		ns+"_infra_kustomize.toolkit.fluxcd.io_Kustomization",
		ns+"_settings__ConfigMap")
	withInventory(t, ns, "infra",
		ns+"_podinfo_apps_Deployment",
		ns+"_podinfo__Service")

	out, errOut, code := weir(t, nil, "tree", "kustomization", "root", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "tree_kustomization.golden", ns, out)

	out, _, code = weir(t, nil, "tree", "ks", "root", "--compact", "-n", ns)
	if code != 0 {
		t.Fatal(code)
	}
	golden(t, "tree_kustomization_compact.golden", ns, out)

	out, _, code = weir(t, nil, "tree", "ks", "root", "-o", "json", "-n", ns)
	if code != 0 {
		t.Fatal(code)
	}
	var tree struct {
		Resource  map[string]any   `json:"resource"`
		Resources []map[string]any `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil || len(tree.Resources) != 3 || tree.Resource["Name"] != "root" {
		t.Errorf("json tree = %+v (%v)", tree, err)
	}
}

func TestTrace(t *testing.T) {
	ns := env.Namespace(t)
	seed(t, ns)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns, Labels: map[string]string{
		"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": ns}}}
	if err := env.Client.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := weir(t, nil, "trace", "settings", "--kind", "ConfigMap", "--api-version", "v1", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out = regexp.MustCompile(`Last reconciled at .*`).ReplaceAllString(out, "Last reconciled at TIME")
	golden(t, "trace_configmap.golden", ns, out)
	// flux's argument orders give the same trace: <resource> <name>, a short name, <resource>/<name>.
	for _, args := range [][]string{{"trace", "configmap", "settings"}, {"trace", "cm", "settings"}, {"trace", "cm/settings"}} {
		got, errOut, code := weir(t, nil, append(args, "-n", ns)...)
		got = regexp.MustCompile(`Last reconciled at .*`).ReplaceAllString(got, "Last reconciled at TIME")
		if code != 0 || got != out {
			t.Errorf("weir %v: exit %d, stderr %q\n%s", args, code, errOut, got)
		}
	}
	if _, errOut, code := weir(t, nil, "trace", "settings", "-n", ns); code == 0 || !strings.Contains(errOut, "object kind is required") {
		t.Errorf("a name alone: exit %d, %q", code, errOut)
	}

	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns}}
	if err := env.Client.Create(t.Context(), plain, client.FieldOwner("test")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = weir(t, nil, "trace", "configmap/plain", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "not managed by Flux") {
		t.Errorf("trace of an unmanaged object: exit %d, %q", code, errOut)
	}
}
