package apply_test

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/weirgitops/weir/internal/apply"
)

func ExampleObjMetadata_ID() {
	svc := apply.ObjMetadata{Namespace: "default", Name: "podinfo", Kind: "Service"}
	role := apply.ObjMetadata{Name: "system:reader", Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}
	fmt.Println(svc.ID())
	fmt.Println(role.ID())
	fmt.Println(svc.Subject())
	// Output:
	// default_podinfo__Service
	// _system__reader_rbac.authorization.k8s.io_ClusterRole
	// Service/default/podinfo
}

func ExampleParseID() {
	m, err := apply.ParseID("apps_podinfo_apps_Deployment")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %s/%s in %q\n", m.Kind, m.Group, m.Name, m.Namespace)
	// Output: Deployment apps/podinfo in "apps"
}

func ExampleStale() {
	old := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{
		{ID: "_apps__Namespace", Version: "v1"},
		{ID: "apps_podinfo_apps_Deployment", Version: "v1"},
		{ID: "apps_podinfo__Service", Version: "v1"},
	}}
	current := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{
		{ID: "_apps__Namespace", Version: "v1"},
	}}
	stale, err := apply.Stale(old, current)
	if err != nil {
		panic(err)
	}
	for _, o := range stale {
		fmt.Println(o.GetAPIVersion(), apply.ObjMetadataFor(o).Subject())
	}
	// Output:
	// v1 Service/apps/podinfo
	// apps/v1 Deployment/apps/podinfo
}

func ExampleChangeSet_String() {
	cs := &apply.ChangeSet{}
	cs.Add(
		apply.ChangeSetEntry{Subject: "Deployment/apps/podinfo", Action: apply.Configured},
		apply.ChangeSetEntry{Subject: "ConfigMap/apps/podinfo", Action: apply.Unchanged},
		apply.ChangeSetEntry{Subject: "Service/apps/podinfo", Action: apply.Created},
	)
	fmt.Println(cs.HasChanged())
	fmt.Println(cs.Changes().String())
	// Output:
	// true
	// Deployment/apps/podinfo configured
	// Service/apps/podinfo created
}
