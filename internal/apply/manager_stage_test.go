package apply_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/manager"
)

// crdManifest declares a namespaced CRD of kind in group, and a custom resource of it.
func crdManifest(group, kind string) string {
	plural := strings.ToLower(kind) + "s"
	return strings.NewReplacer("GROUP", group, "KIND", kind, "PLURAL", plural, "LOWER", strings.ToLower(kind)).Replace(`
apiVersion: GROUP/v1
kind: KIND
metadata:
  name: one
  namespace: NS
spec:
  size: 3
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: PLURAL.GROUP
spec:
  group: GROUP
  scope: Namespaced
  names:
    kind: KIND
    plural: PLURAL
    singular: LOWER
    listKind: KINDList
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
`)
}

func TestApplyCRDAndCustomResourceTogether(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	group := rand.String(6) + ".weir.test"
	for _, plural := range []string{"widgets", "gears"} {
		crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", plural+"."+group)
		t.Cleanup(func() { _ = env.Client.Delete(t.Context(), crd) })
	}

	// A long-running controller's client has done its discovery before the CRD exists: its
	// RESTMapper must learn the new group, and later a new kind in a group it knows.
	c, err := client.New(env.Config, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RESTMapper().RESTMapping(schema.GroupKind{Kind: "ConfigMap"}, "v1"); err != nil {
		t.Fatal(err)
	}
	m := apply.NewManager(c, apply.Options{Owner: apply.Owner{Name: "crds", Namespace: ns}})

	for _, kind := range []string{"Widget", "Gear"} {
		cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, crdManifest(group, kind)), apply.ApplyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		crdSubject := "CustomResourceDefinition/" + strings.ToLower(kind) + "s." + group
		wantActions(t, cs, map[string]apply.Action{
			crdSubject:               apply.Created,
			kind + "/" + ns + "/one": apply.Created,
		})
		if cs.Entries[0].Subject != crdSubject {
			t.Errorf("CRD not applied first:\n%s", cs)
		}
		cr := live(t, group+"/v1", kind, ns, "one")
		if size, _, _ := unstructured.NestedInt64(cr.Object, "spec", "size"); size != 3 {
			t.Errorf("spec.size = %d", size)
		}
		if id := apply.NewInventory(cs).Entries[1].ID; id != ns+"_one_"+group+"_"+kind {
			t.Errorf("custom resource id = %s", id)
		}
	}
}

func TestApplyNamespaceAndItsObjects(t *testing.T) {
	t.Parallel()
	ns := "t-" + rand.String(8)
	manifests := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: NS
---
apiVersion: v1
kind: Namespace
metadata:
  name: NS
`
	nsObj := obj("v1", "Namespace", "", ns)
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), nsObj) })
	m := newManager("flux-system", "infra")
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"Namespace/" + ns: apply.Created, "ConfigMap/" + ns + "/cfg": apply.Created})
	if got := cs.Entries[0].Subject; got != "Namespace/"+ns {
		t.Errorf("first applied %s", got)
	}
	if inv := apply.NewInventory(cs); inv.Entries[0].ID != "_"+ns+"__Namespace" {
		t.Errorf("namespace id = %s", inv.Entries[0].ID)
	}
}

func TestApplyWaitsWithDeadline(t *testing.T) {
	t.Parallel()
	// A CRD that can never be established (its names clash with an existing one) makes the
	// first stage time out instead of hanging.
	group := rand.String(6) + ".weir.test"
	crd := func(name string) string {
		return fmt.Sprintf(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %s.%s
spec:
  group: %s
  scope: Cluster
  names:
    kind: Gadget
    plural: %s
    singular: gadget
    shortNames: [gd]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`, name, group, group, name)
	}
	m := newManager("flux-system", "crds")
	first := objects(t, "", crd("gadgets"))
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), first[0]) })
	if _, err := m.ApplyAllStaged(t.Context(), first, apply.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	second := objects(t, "", strings.ReplaceAll(crd("gizmos"), "kind: Gadget", "kind: Gizmo"))
	t.Cleanup(func() { _ = env.Client.Delete(t.Context(), second[0]) })
	start := time.Now()
	_, err := m.ApplyAllStaged(t.Context(), second, apply.ApplyOptions{WaitTimeout: 2 * time.Second, WaitInterval: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "CustomResourceDefinition/gizmos."+group+" not established") {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("wait took %s", d)
	}
}
