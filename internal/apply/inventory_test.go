package apply

import (
	"slices"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func TestObjMetadataID(t *testing.T) {
	cases := map[string]struct {
		obj     *unstructured.Unstructured
		id      string
		subject string
	}{
		"core namespaced": {
			obj: obj("v1", "Service", "default", "podinfo"), id: "default_podinfo__Service",
			subject: "Service/default/podinfo",
		},
		"grouped namespaced": {
			obj: obj("apps/v1", "Deployment", "apps", "podinfo"), id: "apps_podinfo_apps_Deployment",
			subject: "Deployment/apps/podinfo",
		},
		"core cluster-scoped": {
			obj: obj("v1", "Namespace", "", "apps"), id: "_apps__Namespace", subject: "Namespace/apps",
		},
		"crd": {
			obj:     obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
			id:      "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
			subject: "CustomResourceDefinition/widgets.example.com",
		},
		"rbac name with colons": {
			obj:     obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:controller:foo"),
			id:      "_system__controller__foo_rbac.authorization.k8s.io_ClusterRole",
			subject: "ClusterRole/system:controller:foo",
		},
		"flux kind": {
			obj:     obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps"),
			id:      "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization",
			subject: "Kustomization/flux-system/apps",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := ObjMetadataFor(c.obj)
			if got := m.ID(); got != c.id {
				t.Errorf("ID() = %q, want %q", got, c.id)
			}
			if got := m.Subject(); got != c.subject {
				t.Errorf("Subject() = %q, want %q", got, c.subject)
			}
			back, err := ParseID(c.id)
			if err != nil {
				t.Fatalf("ParseID(%q): %v", c.id, err)
			}
			if back != m {
				t.Errorf("ParseID(%q) = %+v, want %+v", c.id, back, m)
			}
		})
	}
}

func TestParseIDErrors(t *testing.T) {
	for name, id := range map[string]string{
		"empty":        "",
		"one field":    "default",
		"two fields":   "default_podinfo",
		"three fields": "default_podinfo_apps",
		"extra field":  "default_pod_info_apps_Deployment",
		"no kind":      "default_podinfo_apps_",
	} {
		t.Run(name, func(t *testing.T) {
			if m, err := ParseID(id); err == nil {
				t.Errorf("ParseID(%q) = %+v, want an error", id, m)
			}
		})
	}
}

func TestSortObjects(t *testing.T) {
	objs := []*unstructured.Unstructured{
		obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hook"),
		obj("apps/v1", "Deployment", "b", "app"),
		obj("example.com/v1", "Widget", "a", "w"),
		obj("v1", "Service", "a", "app"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "crb"),
		obj("networking.k8s.io/v1", "IngressClass", "", "nginx"),
		obj("apps/v1", "Deployment", "a", "app"),
		obj("v1", "Namespace", "", "a"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "cr"),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
		obj("v1", "ConfigMap", "a", "cfg"),
		obj("storage.k8s.io/v1", "StorageClass", "", "fast"),
	}
	SortObjects(objs)
	var got []string
	for _, o := range objs {
		got = append(got, ObjMetadataFor(o).Subject())
	}
	want := []string{
		// stage 1: cluster definitions
		"CustomResourceDefinition/widgets.example.com",
		"Namespace/a",
		"ClusterRole/cr",
		// stage 2: classes
		"StorageClass/fast",
		"IngressClass/nginx",
		// stage 4: the rest, in Flux's kind order
		"ClusterRoleBinding/crb",
		"ConfigMap/a/cfg",
		"Service/a/app",
		"Deployment/a/app",
		"Deployment/b/app",
		"Widget/a/w",
		"ValidatingWebhookConfiguration/hook",
	}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
}

func TestInventory(t *testing.T) {
	cs := &ChangeSet{}
	for _, o := range []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "apps"),
		obj("apps/v1", "Deployment", "apps", "podinfo"),
		obj("v1", "Service", "apps", "podinfo"),
		obj("v1", "Service", "apps", "podinfo"), // duplicate
	} {
		cs.Add(newEntry(ObjMetadataFor(o), o.GroupVersionKind().Version, Created))
	}
	inv := NewInventory(cs)
	want := []kustomizev1.ResourceRef{
		{ID: "_apps__Namespace", Version: "v1"},
		{ID: "apps_podinfo_apps_Deployment", Version: "v1"},
		{ID: "apps_podinfo__Service", Version: "v1"},
	}
	if !slices.Equal(inv.Entries, want) {
		t.Fatalf("NewInventory = %+v, want %+v", inv.Entries, want)
	}

	current := InventoryOf([]*unstructured.Unstructured{
		obj("v1", "Service", "apps", "podinfo"),
		obj("v1", "Namespace", "", "apps"),
	})
	wantCurrent := []kustomizev1.ResourceRef{
		{ID: "_apps__Namespace", Version: "v1"},
		{ID: "apps_podinfo__Service", Version: "v1"},
	}
	if !slices.Equal(current.Entries, wantCurrent) {
		t.Fatalf("InventoryOf = %+v, want %+v", current.Entries, wantCurrent)
	}

	old := &kustomizev1.ResourceInventory{Entries: append(slices.Clone(inv.Entries),
		kustomizev1.ResourceRef{ID: "apps_podinfo_autoscaling_HorizontalPodAutoscaler", Version: "v2"},
		kustomizev1.ResourceRef{ID: "_podinfo_rbac.authorization.k8s.io_ClusterRole", Version: "v1"},
	)}
	stale, err := Stale(old, current)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range stale {
		got = append(got, o.GetAPIVersion()+" "+ObjMetadataFor(o).Subject())
	}
	wantStale := []string{
		"rbac.authorization.k8s.io/v1 ClusterRole/podinfo",
		"apps/v1 Deployment/apps/podinfo",
		"autoscaling/v2 HorizontalPodAutoscaler/apps/podinfo",
	}
	if !slices.Equal(got, wantStale) {
		t.Errorf("Stale = %q, want %q", got, wantStale)
	}

	// A version change alone is not stale.
	bumped := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{{ID: "apps_podinfo__Service", Version: "v2"}}}
	if stale, _ := Stale(&kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{{ID: "apps_podinfo__Service", Version: "v1"}}}, bumped); len(stale) != 0 {
		t.Errorf("version change counted as stale: %v", stale)
	}
	if _, err := Stale(&kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{{ID: "garbage"}}}, nil); err == nil {
		t.Error("Stale accepted a malformed id")
	}

	objs, err := InventoryObjects(inv)
	if err != nil {
		t.Fatal(err)
	}
	var gotObjs []string
	for _, o := range objs {
		gotObjs = append(gotObjs, o.GetAPIVersion()+" "+ObjMetadataFor(o).Subject())
	}
	wantObjs := []string{"v1 Namespace/apps", "v1 Service/apps/podinfo", "apps/v1 Deployment/apps/podinfo"}
	if !slices.Equal(gotObjs, wantObjs) {
		t.Errorf("InventoryObjects = %q, want %q", gotObjs, wantObjs)
	}

	MergeInventory(current, []*unstructured.Unstructured{obj("v1", "Service", "apps", "podinfo"), obj("v1", "Secret", "apps", "token")})
	if n := len(current.Entries); n != 3 || current.Entries[2].ID != "apps_token__Secret" {
		t.Errorf("MergeInventory = %+v", current.Entries)
	}
}

func TestChangeSet(t *testing.T) {
	cs := &ChangeSet{}
	if cs.HasChanged() {
		t.Error("empty change set has changes")
	}
	cs.Add(
		newEntry(ObjMetadataFor(obj("apps/v1", "Deployment", "ns", "app")), "v1", Configured),
		newEntry(ObjMetadataFor(obj("v1", "Service", "ns", "app")), "v1", Created),
		newEntry(ObjMetadataFor(obj("v1", "ConfigMap", "ns", "cfg")), "v1", Unchanged),
		newEntry(ObjMetadataFor(obj("v1", "Namespace", "", "ns")), "v1", Skipped),
	)
	if !cs.HasChanged() {
		t.Error("HasChanged() = false")
	}
	if got, want := cs.Changes().String(), "Deployment/ns/app configured\nService/ns/app created"; got != want {
		t.Errorf("Changes().String() = %q, want %q", got, want)
	}
	if got := cs.ToMap()["Namespace/ns"]; got != Skipped {
		t.Errorf("ToMap()[Namespace/ns] = %q", got)
	}
	if got := len(cs.String()); got == 0 {
		t.Error("String() is empty")
	}
}
