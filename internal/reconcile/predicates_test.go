package reconcile

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestLabelsMatch(t *testing.T) {
	cm := func(l map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: l}}
	}
	watched := labels.SelectorFromSet(labels.Set{"reconcile.fluxcd.io/watch": "Enabled"})
	cases := []struct {
		name string
		sel  labels.Selector
		obj  *corev1.ConfigMap
		want bool
	}{
		{"no selector watches all", nil, cm(nil), true},
		{"labelled", watched, cm(map[string]string{"reconcile.fluxcd.io/watch": "Enabled"}), true},
		{"unlabelled", watched, cm(nil), false},
		{"other value", watched, cm(map[string]string{"reconcile.fluxcd.io/watch": "Disabled"}), false},
	}
	for _, c := range cases {
		p := LabelsMatch(c.sel)
		got := p.Update(event.UpdateEvent{ObjectOld: c.obj, ObjectNew: c.obj}) && p.Create(event.CreateEvent{Object: c.obj})
		if got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
