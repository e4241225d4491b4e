package apply_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Options{}, &env) }

func obj(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// objects parses a multi-document YAML stream, replacing NS with ns first.
func objects(t *testing.T, ns, manifests string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(strings.ReplaceAll(manifests, "NS", ns), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("parse manifest: %v\n%s", err, doc)
		}
		out = append(out, u)
	}
	return out
}

// newManager returns a manager owned by the Kustomization name in ns.
func newManager(ns, name string) *apply.Manager {
	return apply.NewManager(env.Client, apply.Options{Owner: apply.Owner{Name: name, Namespace: ns}})
}

// live gets an object as the cluster has it, failing the test when it cannot.
func live(t *testing.T, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := obj(apiVersion, kind, ns, name)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(u), u); err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, ns, name, err)
	}
	return u
}

// exists reports whether the object is in the cluster.
func exists(t *testing.T, apiVersion, kind, ns, name string) bool {
	t.Helper()
	u := obj(apiVersion, kind, ns, name)
	err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(u), u)
	if err != nil && client.IgnoreNotFound(err) != nil {
		t.Fatalf("get %s %s/%s: %v", kind, ns, name, err)
	}
	return err == nil
}

// actions returns subject → action of a change set, failing on duplicates.
func actions(t *testing.T, cs *apply.ChangeSet) map[string]apply.Action {
	t.Helper()
	m := cs.ToMap()
	if len(m) != len(cs.Entries) {
		t.Fatalf("change set has duplicate subjects:\n%s", cs)
	}
	return m
}

func wantActions(t *testing.T, cs *apply.ChangeSet, want map[string]apply.Action) {
	t.Helper()
	got := actions(t, cs)
	for s, a := range want {
		if got[s] != a {
			t.Errorf("%s: action %q, want %q\nchange set:\n%s", s, got[s], a, cs)
		}
	}
	if len(got) != len(want) {
		t.Errorf("change set has %d entries, want %d:\n%s", len(got), len(want), cs)
	}
}
