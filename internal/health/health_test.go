package health

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func mustObj(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	return u
}

const deployScaledToZero = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns, generation: 2}
spec: {replicas: 0}
status:
  observedGeneration: 2
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
`

const deployProgressing = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns, generation: 3}
spec: {replicas: 2}
status:
  observedGeneration: 3
  replicas: 2
  updatedReplicas: 1
  readyReplicas: 1
  availableReplicas: 1
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated}
`

const deployStalled = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns, generation: 1}
spec: {replicas: 1}
status:
  observedGeneration: 1
  replicas: 1
  updatedReplicas: 1
  conditions:
  - {type: Progressing, status: "False", reason: ProgressDeadlineExceeded, message: "deadline exceeded"}
`

const deployReady = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns, generation: 1}
spec: {replicas: 1}
status:
  observedGeneration: 1
  replicas: 1
  updatedReplicas: 1
  readyReplicas: 1
  availableReplicas: 1
  conditions:
  - {type: Available, status: "True"}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
`

const crdEstablished = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com, generation: 1}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true}]
status:
  acceptedNames: {kind: Widget, plural: widgets}
  conditions:
  - {type: NamesAccepted, status: "True"}
  - {type: Established, status: "True"}
`

const crdPending = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com, generation: 1}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
status:
  conditions:
  - {type: NamesAccepted, status: "True"}
  - {type: Established, status: "False", reason: Installing}
`

func customResource(ready, reason string, observed int) string {
	return `apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: ns, generation: 2}
status:
  observedGeneration: ` + map[int]string{1: "1", 2: "2"}[observed] + `
  conditions:
  - {type: Ready, status: "` + ready + `", reason: ` + reason + `, message: widget says ` + reason + `}
`
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		obj  string
		want Result
	}{
		{"deployment scaled to zero", deployScaledToZero, Result{Status: Current}},
		{"deployment progressing", deployProgressing, Result{Status: InProgress}},
		{"deployment ready", deployReady, Result{Status: Current}},
		{"deployment progress deadline exceeded", deployStalled, Result{Status: Failed}},
		{"crd established", crdEstablished, Result{Status: Current}},
		{"crd installing", crdPending, Result{Status: InProgress}},
		{"crd not established", strings.Replace(crdPending, "reason: Installing", "reason: Conflict", 1), Result{Status: Failed}},
		{"custom resource ready", customResource("True", "Succeeded", 2), Result{Status: Current}},
		{"custom resource not ready", customResource("False", "Reconciling", 2), Result{Status: InProgress}},
		{"custom resource stale generation", customResource("True", "Succeeded", 1), Result{Status: InProgress}},
		{"configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", Result{Status: Current}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Status(mustObj(t, tt.obj))
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want.Status {
				t.Fatalf("status = %s (%s), want %s", got.Status, got.Message, tt.want.Status)
			}
		})
	}
	if got, _ := Status(nil); got.Status != NotFound {
		t.Errorf("nil object: %s", got.Status)
	}
}

func TestEvaluator(t *testing.T) {
	sealed := kustomize.CustomHealthCheck{
		APIVersion: "bitnami.com/v1alpha1",
		Kind:       "SealedSecret",
		HealthCheckExpressions: kustomize.HealthCheckExpressions{
			Failed:  "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')",
			Current: "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')",
		},
	}
	wholeGroup := kustomize.CustomHealthCheck{
		APIVersion: "example.com/v1",
		HealthCheckExpressions: kustomize.HealthCheckExpressions{
			InProgress: "has(self.status.phase) && self.status.phase == 'Pending'",
			Failed:     "status.phase == 'Error'",
			Current:    "status.phase == 'Done'",
		},
	}
	sealedObj := func(s string) string {
		return "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: s, namespace: ns, generation: 1}\nstatus:\n  observedGeneration: 1\n  conditions: [{type: Synced, status: \"" + s + "\"}]\n"
	}
	gizmo := func(phase string) string {
		return "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g, namespace: ns}\nstatus: {phase: " + phase + "}\n"
	}
	ev, err := NewEvaluator([]kustomize.CustomHealthCheck{sealed, wholeGroup})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		obj     string
		want    Result
		wantErr string
	}{
		{name: "current expression", obj: sealedObj("True"), want: Result{Status: Current}},
		{name: "failed expression", obj: sealedObj("False"), want: Result{Status: Failed}},
		{name: "none true is in progress", obj: sealedObj("Unknown"), want: Result{Status: InProgress}},
		{name: "stale generation before expressions", obj: strings.Replace(sealedObj("True"), "observedGeneration: 1", "observedGeneration: 0", 1), want: Result{Status: InProgress}},
		{name: "empty kind covers the group; inProgress first", obj: gizmo("Pending"), want: Result{Status: InProgress}},
		{name: "group rule failed", obj: gizmo("Error"), want: Result{Status: Failed}},
		{name: "group rule current", obj: gizmo("Done"), want: Result{Status: Current}},
		{name: "missing field is an error", obj: "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: s}\n", wantErr: "SealedSecret/s"},
		{name: "no rule falls back to kstatus", obj: deployStalled, want: Result{Status: Failed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ev.Status(t.Context(), mustObj(t, tt.obj))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want.Status {
				t.Fatalf("status = %s (%s), want %s", got.Status, got.Message, tt.want.Status)
			}
		})
	}
}

func TestNewEvaluatorErrors(t *testing.T) {
	tests := []struct {
		name  string
		check kustomize.CustomHealthCheck
		want  string
	}{
		{"syntax error", kustomize.CustomHealthCheck{APIVersion: "a.io/v1", Kind: "K", HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: "status.("}}, "healthCheckExprs[0] (a.io/v1 K) current"},
		{"current required", kustomize.CustomHealthCheck{APIVersion: "a.io/v1", Kind: "K"}, "current not specified"},
		{"bad apiVersion", kustomize.CustomHealthCheck{APIVersion: "a/b/c", HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: "true"}}, "apiVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEvaluator([]kustomize.CustomHealthCheck{tt.check})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExpandChecks(t *testing.T) {
	applied := []ObjectID{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "a", Name: "web"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "a", Name: "api"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "b", Name: "web"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet", Namespace: "a", Name: "db"},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "widgets.example.com"},
		{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease", Namespace: "flux-system", Name: "podinfo"},
	}
	ref := func(apiVersion, kind, ns, name string) meta.NamespacedObjectKindReference {
		return meta.NamespacedObjectKindReference{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}
	}
	tests := []struct {
		name    string
		checks  []meta.NamespacedObjectKindReference
		want    []string
		wantErr string
	}{
		{
			name:   "concrete entry kept even when not applied",
			checks: []meta.NamespacedObjectKindReference{ref("apps/v1", "Deployment", "x", "gone")},
			want:   []string{"Deployment/x/gone"},
		},
		{
			name:   "name wildcard in a namespace",
			checks: []meta.NamespacedObjectKindReference{ref("apps/v1", "Deployment", "a", "*")},
			want:   []string{"Deployment/a/api", "Deployment/a/web"},
		},
		{
			name:   "namespace wildcard",
			checks: []meta.NamespacedObjectKindReference{ref("apps/v1", "Deployment", "*", "web")},
			want:   []string{"Deployment/a/web", "Deployment/b/web"},
		},
		{
			name:   "both wildcards, duplicates removed",
			checks: []meta.NamespacedObjectKindReference{ref("apps/v1", "Deployment", "a", "web"), ref("apps/v1", "Deployment", "*", "*")},
			want:   []string{"Deployment/a/web", "Deployment/a/api", "Deployment/b/web"},
		},
		{
			name:   "no namespace means the default one",
			checks: []meta.NamespacedObjectKindReference{ref("helm.toolkit.fluxcd.io/v2", "HelmRelease", "", "podinfo"), ref("apps/v1", "Deployment", "", "*")},
			want:   []string{"HelmRelease/flux-system/podinfo"},
		},
		{
			name:   "cluster-scoped object without namespace",
			checks: []meta.NamespacedObjectKindReference{ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"), ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "*")},
			want:   []string{"CustomResourceDefinition/widgets.example.com"},
		},
		{
			name:   "wildcard without matches expands to nothing",
			checks: []meta.NamespacedObjectKindReference{ref("batch/v1", "Job", "*", "*")},
			want:   nil,
		},
		{
			name:    "invalid apiVersion",
			checks:  []meta.NamespacedObjectKindReference{ref("a/b/c", "X", "", "y")},
			wantErr: "healthChecks[0]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandChecks(tt.checks, applied, "flux-system")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, g := range got {
				ids = append(ids, g.String())
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	dep := ObjectID{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "app"}
	crd := ObjectID{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "w.example.com"}
	job := ObjectID{Group: "batch", Version: "v1", Kind: "Job", Namespace: "ns", Name: "seed"}
	statuses := []ObjectStatus{
		{ID: dep, Result: Result{Status: InProgress}},
		{ID: crd, Result: Result{Status: Current}},
		{ID: job, Result: Result{Status: Failed}},
		{ID: ObjectID{Kind: "Widget", Namespace: "ns", Name: "w"}, Result: Result{Status: Unknown}, Err: errors.New("no such key: status")},
	}
	if got := Aggregate(statuses); got != Failed {
		t.Errorf("Aggregate = %s", got)
	}
	if got := Aggregate(statuses[:2]); got != InProgress {
		t.Errorf("Aggregate = %s", got)
	}
	if got := Aggregate(nil); got != Current {
		t.Errorf("Aggregate(nil) = %s", got)
	}
	want := "timeout waiting for: [Deployment/ns/app status: 'InProgress', Job/ns/seed status: 'Failed', Widget/ns/w status: 'Unknown': no such key: status]"
	if got := TimeoutError(statuses).Error(); got != want {
		t.Errorf("TimeoutError =\n%s\nwant\n%s", got, want)
	}
	want = "failed early due to stalled resources: [Job/ns/seed status: 'Failed']"
	if got := StalledError(statuses).Error(); got != want {
		t.Errorf("StalledError = %s", got)
	}
	err := CheckFailed(90*time.Second, StalledError(statuses))
	if got := err.Error(); got != "health check failed after 1m30s: "+want {
		t.Errorf("CheckFailed = %s", got)
	}
	if got := Passed(2 * time.Second); got != "Health check passed in 2s" {
		t.Errorf("Passed = %s", got)
	}
}

// TestEvaluatorCostLimit: an expression that would run for a billion steps fails the check at
// once (the same object costs the same again) instead of waiting out the timeout.
func TestEvaluatorCostLimit(t *testing.T) {
	nums := make([]string, 1000)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	list := "[" + strings.Join(nums, ",") + "]"
	ev, err := NewEvaluator([]kustomize.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
		HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: list + ".all(x, " + list + ".all(y, " + list + ".all(z, x + y + z >= 0)))"}}})
	if err != nil {
		t.Fatal(err)
	}
	obj := mustObj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns, uid: u1, resourceVersion: '7'}\n")
	for range 2 { // the second answer comes from the memo of over-cost versions
		got, err := ev.Status(t.Context(), obj)
		if got.Status != Failed || err == nil || !strings.Contains(err.Error(), "cost limit of 1000000 exceeded") {
			t.Fatalf("status %s, err %v; want Failed and the cost limit named", got.Status, err)
		}
	}
	if !overCost.has(overCost.key(ev.rules[0].current.src, obj)) {
		t.Fatal("the over-cost version is not remembered")
	}
}
