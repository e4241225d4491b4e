package apply_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/compat"
)

const app = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: NS
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: NS
stringData:
  token: s3cr3t
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: NS
spec:
  selector:
    app: app
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: NS
spec:
  replicas: 0
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: app
        image: nginx:1.27
`

func TestApplyCreatesThenLeavesUnchanged(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, app), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{
		"ConfigMap/" + ns + "/app":  apply.Created,
		"Secret/" + ns + "/app":     apply.Created,
		"Service/" + ns + "/app":    apply.Created,
		"Deployment/" + ns + "/app": apply.Created,
	})
	if got, want := cs.Entries[0].Subject, "ConfigMap/"+ns+"/app"; got != want {
		t.Errorf("first entry %s, want %s (apply order)", got, want)
	}
	cm := live(t, "v1", "ConfigMap", ns, "app")
	if l := cm.GetLabels(); l[compat.KustomizeNameLabel] != "apps" || l[compat.KustomizeNamespaceLabel] != ns {
		t.Errorf("owner labels = %v", l)
	}
	if mf := cm.GetManagedFields(); len(mf) != 1 || mf[0].Manager != compat.KustomizeFieldManager || mf[0].Operation != "Apply" {
		t.Errorf("managedFields = %+v", mf)
	}
	versions := map[string]string{}
	for _, kind := range []string{"ConfigMap", "Secret", "Service", "Deployment"} {
		apiVersion := "v1"
		if kind == "Deployment" {
			apiVersion = "apps/v1"
		}
		versions[kind] = live(t, apiVersion, kind, ns, "app").GetResourceVersion()
	}

	// Writes follow the apply order (kind ranks one after the other): etcd revisions grow.
	if rv(t, versions["ConfigMap"]) >= rv(t, versions["Service"]) || rv(t, versions["Service"]) >= rv(t, versions["Deployment"]) {
		t.Errorf("written out of order: %v", versions)
	}

	cs, err = m.ApplyAllStaged(t.Context(), objects(t, ns, app), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{
		"ConfigMap/" + ns + "/app":  apply.Unchanged,
		"Secret/" + ns + "/app":     apply.Unchanged,
		"Service/" + ns + "/app":    apply.Unchanged,
		"Deployment/" + ns + "/app": apply.Unchanged,
	})
	if cs.HasChanged() {
		t.Error("HasChanged() after a no-op apply")
	}
	for kind, rv := range versions {
		apiVersion := "v1"
		if kind == "Deployment" {
			apiVersion = "apps/v1"
		}
		if got := live(t, apiVersion, kind, ns, "app").GetResourceVersion(); got != rv {
			t.Errorf("%s written on a no-op apply: resourceVersion %s → %s", kind, rv, got)
		}
	}

	inv := apply.NewInventory(cs)
	if len(inv.Entries) != 4 || inv.Entries[3].ID != ns+"_app_apps_Deployment" || inv.Entries[3].Version != "v1" {
		t.Errorf("inventory = %+v", inv.Entries)
	}
}

func rv(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", s, err)
	}
	return n
}

func TestApplyCorrectsDrift(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	manifests := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: NS
data:
  color: blue
`
	if _, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// kubectl edit changes a declared value and adds a key and an annotation.
	cm := live(t, "v1", "ConfigMap", ns, "cfg")
	patch := []byte(`{"metadata":{"annotations":{"edited":"yes"}},"data":{"color":"red","extra":"x"}}`)
	if err := env.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}

	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"ConfigMap/" + ns + "/cfg": apply.Configured})
	cm = live(t, "v1", "ConfigMap", ns, "cfg")
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if data["color"] != "blue" || len(data) != 1 {
		t.Errorf("data after drift correction = %v, want only color=blue", data)
	}
	if _, ok := cm.GetAnnotations()["edited"]; ok {
		t.Error("annotation added by kubectl edit survived")
	}
	for _, e := range cm.GetManagedFields() {
		if strings.HasPrefix(e.Manager, "kubectl") {
			t.Errorf("managedFields still has %s", e.Manager)
		}
	}

	// The takeover converges: the next apply writes nothing.
	rv := cm.GetResourceVersion()
	cs, err = m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"ConfigMap/" + ns + "/cfg": apply.Unchanged})
	if got := live(t, "v1", "ConfigMap", ns, "cfg").GetResourceVersion(); got != rv {
		t.Errorf("resourceVersion moved %s → %s", rv, got)
	}

	// Edits made as flux-client-side-apply survive, as Flux documents.
	patch = []byte(`{"data":{"kept":"yes"}}`)
	if err := env.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(compat.FluxClientFieldManager)); err != nil {
		t.Fatal(err)
	}
	cs, err = m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"ConfigMap/" + ns + "/cfg": apply.Unchanged})
	data, _, _ = unstructured.NestedStringMap(live(t, "v1", "ConfigMap", ns, "cfg").Object, "data")
	if data["kept"] != "yes" {
		t.Errorf("flux-client-side-apply edit reverted: %v", data)
	}
}

func TestApplySSAPolicies(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	manifests := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: once
  namespace: NS
  annotations:
    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent
data:
  v: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
  namespace: NS
  labels:
    kustomize.toolkit.fluxcd.io/ssa: ignore
data:
  v: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: merged
  namespace: NS
  annotations:
    kustomize.toolkit.fluxcd.io/ssa: Merge
data:
  v: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: disabled
  namespace: NS
  annotations:
    kustomize.toolkit.fluxcd.io/reconcile: disabled
data:
  v: "1"
`
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{
		"ConfigMap/" + ns + "/once":     apply.Created,
		"ConfigMap/" + ns + "/ignored":  apply.Skipped,
		"ConfigMap/" + ns + "/merged":   apply.Created,
		"ConfigMap/" + ns + "/disabled": apply.Skipped,
	})
	if exists(t, "v1", "ConfigMap", ns, "ignored") || exists(t, "v1", "ConfigMap", ns, "disabled") {
		t.Error("ssa Ignore or reconcile disabled object was created")
	}

	// Another manager adds a key to the Merge object; the declaration changes for the
	// IfNotPresent one.
	for _, name := range []string{"merged", "once"} {
		cm := live(t, "v1", "ConfigMap", ns, name)
		patch := []byte(`{"data":{"added":"by-kubectl"}}`)
		if err := env.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
	}
	changed := strings.ReplaceAll(manifests, `v: "1"`, `v: "2"`)
	cs, err = m.ApplyAllStaged(t.Context(), objects(t, ns, changed), apply.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{
		"ConfigMap/" + ns + "/once":     apply.Skipped,
		"ConfigMap/" + ns + "/ignored":  apply.Skipped,
		"ConfigMap/" + ns + "/merged":   apply.Configured,
		"ConfigMap/" + ns + "/disabled": apply.Skipped,
	})
	once, _, _ := unstructured.NestedStringMap(live(t, "v1", "ConfigMap", ns, "once").Object, "data")
	if once["v"] != "1" || once["added"] != "by-kubectl" {
		t.Errorf("IfNotPresent object was patched: %v", once)
	}
	merged, _, _ := unstructured.NestedStringMap(live(t, "v1", "ConfigMap", ns, "merged").Object, "data")
	if merged["v"] != "2" || merged["added"] != "by-kubectl" {
		t.Errorf("Merge object = %v, want v=2 and the other manager's key kept", merged)
	}

	// ssa: Ignore set on the live object only is honoured too.
	cm := live(t, "v1", "ConfigMap", ns, "merged")
	patch := []byte(`{"metadata":{"annotations":{"kustomize.toolkit.fluxcd.io/ssa":"Ignore"}}}`)
	if err := env.Client.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("kubectl-annotate")); err != nil {
		t.Fatal(err)
	}
	e, err := m.Apply(t.Context(), objects(t, ns, manifests)[2], apply.ApplyOptions{})
	if err != nil || e.Action != apply.Skipped {
		t.Errorf("live ssa Ignore: %v, %v", e, err)
	}
}

const job = `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: NS
ANNOTATIONS
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: IMAGE
`

func jobManifest(image string, force bool) string {
	s := strings.ReplaceAll(job, "IMAGE", image)
	annotations := ""
	if force {
		annotations = "  annotations:\n    kustomize.toolkit.fluxcd.io/force: Enabled"
	}
	return strings.ReplaceAll(s, "ANNOTATIONS", annotations)
}

func TestApplyImmutableFields(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := newManager(ns, "apps")
	opts := apply.ApplyOptions{WaitTimeout: 30 * time.Second}
	if _, err := m.ApplyAllStaged(t.Context(), objects(t, ns, jobManifest("busybox:1", false)), opts); err != nil {
		t.Fatal(err)
	}
	uid := live(t, "batch/v1", "Job", ns, "migrate").GetUID()

	// Without force: a precise error naming the object and the field.
	_, err := m.ApplyAllStaged(t.Context(), objects(t, ns, jobManifest("busybox:2", false)), opts)
	var immutable *apply.ImmutableError
	if !errors.As(err, &immutable) {
		t.Fatalf("error = %v, want an apply.ImmutableError", err)
	}
	for _, want := range []string{"apply Job/" + ns + "/migrate:", "spec.template", compat.ForceAnnotation} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !apierrors.IsInvalid(err) {
		t.Error("the API server's error is not wrapped")
	}
	if got := live(t, "batch/v1", "Job", ns, "migrate").GetUID(); got != uid {
		t.Fatal("job recreated without force")
	}

	// With the force annotation: deleted and created again.
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, jobManifest("busybox:2", true)), opts)
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"Job/" + ns + "/migrate": apply.Created})
	j := live(t, "batch/v1", "Job", ns, "migrate")
	if j.GetUID() == uid {
		t.Error("job not recreated")
	}
	containers, _, _ := unstructured.NestedSlice(j.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "busybox:2" {
		t.Errorf("image = %v", img)
	}

	// apply.ApplyOptions.Force (spec.force) recreates without the annotation: a Deployment
	// selector change.
	deploy := strings.ReplaceAll(app[strings.Index(app, "apiVersion: apps/v1"):], "NS", ns)
	if _, err := m.ApplyAllStaged(t.Context(), objects(t, ns, deploy), opts); err != nil {
		t.Fatal(err)
	}
	duid := live(t, "apps/v1", "Deployment", ns, "app").GetUID()
	changed := strings.ReplaceAll(deploy, "app: app", "app: app2")
	if _, err := m.ApplyAllStaged(t.Context(), objects(t, ns, changed), opts); !errors.As(err, &immutable) || !strings.Contains(err.Error(), "spec.selector") {
		t.Fatalf("selector change without force: %v", err)
	}
	opts.Force = true
	cs, err = m.ApplyAllStaged(t.Context(), objects(t, ns, changed), opts)
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, cs, map[string]apply.Action{"Deployment/" + ns + "/app": apply.Created})
	if live(t, "apps/v1", "Deployment", ns, "app").GetUID() == duid {
		t.Error("deployment not recreated")
	}
}

func TestApplyAggregatesErrorsAndWritesNothing(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	m := apply.NewManager(env.Client, apply.Options{Owner: apply.Owner{Name: "apps", Namespace: ns}, Concurrency: 2})
	manifests := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: good
  namespace: NS
---
apiVersion: v1
kind: Service
metadata:
  name: bad-svc
  namespace: NS
spec:
  ports:
  - port: 99999
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: no-namespace
---
apiVersion: nope.weir.test/v1
kind: Missing
metadata:
  name: x
  namespace: NS
`
	cs, err := m.ApplyAllStaged(t.Context(), objects(t, ns, manifests), apply.ApplyOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, subject := range []string{"Service/" + ns + "/bad-svc", "ConfigMap/no-namespace", "Missing/" + ns + "/x"} {
		if !strings.Contains(err.Error(), subject) {
			t.Errorf("error does not name %s:\n%v", subject, err)
		}
	}
	// Planning failed, so nothing was written, as in Flux: a broken manifest does not
	// half-apply a revision.
	if len(cs.Entries) != 0 || exists(t, "v1", "ConfigMap", ns, "good") {
		t.Errorf("objects applied despite planning errors:\n%s", cs)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Errorf("want 3 joined errors, got %v", err)
	}
}
