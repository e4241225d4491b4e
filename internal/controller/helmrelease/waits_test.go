package helmrelease

import (
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"
)

// namedWaiter is a kube.Waiter that only says which one it is.
type namedWaiter string

func (namedWaiter) Wait(kube.ResourceList, time.Duration) error            { return nil }
func (namedWaiter) WaitWithJobs(kube.ResourceList, time.Duration) error    { return nil }
func (namedWaiter) WaitForDelete(kube.ResourceList, time.Duration) error   { return nil }
func (namedWaiter) WatchUntilReady(kube.ResourceList, time.Duration) error { return nil }

func TestScopedWaiterPick(t *testing.T) {
	release := map[string]string{nameLabel: "app", namespaceLabel: "apps"}
	obj := func(labels map[string]string) *resource.Info {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Service")
		u.SetName("app")
		u.SetLabels(labels)
		return &resource.Info{Object: u}
	}
	w := &scopedWaiter{all: namedWaiter("all"), scoped: namedWaiter("scoped"), labels: release}
	for _, c := range []struct {
		name      string
		resources kube.ResourceList
		want      kube.Waiter
	}{
		{"every object labelled", kube.ResourceList{obj(release), obj(map[string]string{nameLabel: "app", namespaceLabel: "apps", "x": "y"})}, namedWaiter("scoped")},
		{"one object unlabelled (a CRD, a hook left out of post-rendering)", kube.ResourceList{obj(release), obj(nil)}, namedWaiter("all")},
		{"another release's label value", kube.ResourceList{obj(map[string]string{nameLabel: "other", namespaceLabel: "apps"})}, namedWaiter("all")},
		{"one of the two labels", kube.ResourceList{obj(map[string]string{nameLabel: "app"})}, namedWaiter("all")},
		{"nothing to wait on", nil, namedWaiter("scoped")},
	} {
		if got := w.pick(c.resources); got != c.want {
			t.Errorf("%s: picked %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSelecting(t *testing.T) {
	const release = "helm.toolkit.fluxcd.io/name=app,helm.toolkit.fluxcd.io/namespace=apps"
	if got := selecting(metav1.ListOptions{ResourceVersion: "7"}, release); got.LabelSelector != release || got.ResourceVersion != "7" {
		t.Errorf("an informer's list: %+v, want the release's selector and the rest kept", got)
	}
	// kstatus lists a Deployment's ReplicaSets with the Deployment's selector: kept as it is.
	if got := selecting(metav1.ListOptions{LabelSelector: "app=web"}, release); got.LabelSelector != "app=web" {
		t.Errorf("a list with its own selector: %q, want it unchanged", got.LabelSelector)
	}
}
