package helmrelease

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestLabelled(t *testing.T) {
	labels := map[string]string{nameLabel: "app", namespaceLabel: "apps"}
	for _, c := range []struct {
		name, in    string
		annotations map[string]string
		want        []string // kind/name of the objects, in order
		wantErr     string
		// check, when set, looks further at the objects.
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{name: "Helm's order is kept, comment-only documents dropped", in: `---
# Source: chart/templates/svc.yaml
apiVersion: v1
kind: Service
metadata: {name: web}
---
# Source: chart/templates/empty.yaml
---
# Source: chart/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, labels: {team: a, helm.toolkit.fluxcd.io/name: stale}}
`, want: []string{"Service/web", "ServiceAccount/web"}, check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if objs[1].GetLabels()["team"] != "a" {
				t.Errorf("the chart's own label is lost: %v", objs[1].GetLabels())
			}
		}},
		{name: "lists unwrapped, as kustomize does", in: `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
`, want: []string{"ConfigMap/a", "ConfigMap/b"}},
		{name: "commonMetadata annotations", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {keep: me}}\n",
			annotations: map[string]string{"owner": "team-a"}, want: []string{"ConfigMap/a"}, check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if objs[0].GetAnnotations()["keep"] != "me" {
					t.Errorf("the chart's own annotation is lost: %v", objs[0].GetAnnotations())
				}
			}},
		{name: "an object twice is refused, as kustomize refuses it", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			wantErr: "already registered"},
		{name: "an object without a name", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", wantErr: "metadata.name"},
		{name: "an alias bomb", in: "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
			wantErr: "alias"},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs, err := labelled([]byte(c.in), labels, c.annotations)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetName())
				for k, v := range labels {
					if o.GetLabels()[k] != v {
						t.Errorf("%s: label %s=%q, want %q", o.GetName(), k, o.GetLabels()[k], v)
					}
				}
				for k, v := range c.annotations {
					if o.GetAnnotations()[k] != v {
						t.Errorf("%s: annotation %s=%q, want %q", o.GetName(), k, o.GetAnnotations()[k], v)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("objects %v, want %v", got, c.want)
			}
			if c.check != nil {
				c.check(t, objs)
			}
		})
	}
}
