package charts

import (
	"bytes"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// render packages the chart and renders it with values, returning the objects by kind/name.
func render(t *testing.T, values map[string]any) map[string]map[string]any {
	t.Helper()
	data, _, err := Package("v0.0.0-dev")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValues(ch, values, common.ReleaseOptions{Name: "weir", Namespace: "flux-system", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for _, text := range out {
		for _, doc := range strings.Split(text, "\n---") {
			var o map[string]any
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%v in\n%s", err, doc)
			}
			if o == nil {
				continue
			}
			md, _ := o["metadata"].(map[string]any)
			objs[o["kind"].(string)+"/"+md["name"].(string)] = o
		}
	}
	return objs
}

func TestPackageIsReproducible(t *testing.T) {
	a, va, err := Package("v0.0.0-dev")
	if err != nil {
		t.Fatal(err)
	}
	b, vb, err := Package("v0.0.0-dev")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || va != vb {
		t.Fatalf("two packages differ: %s, %s", va, vb)
	}
	if !strings.HasPrefix(va, "0.1.0+") {
		t.Fatalf("version of a development build = %s, want 0.1.0+<digest>", va)
	}
	if _, v, _ := Package("v1.4.2"); v != "1.4.2" {
		t.Fatalf("version of release v1.4.2 = %s", v)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.CRDObjects()) == 0 {
		t.Fatal("the packaged chart has no CRDs")
	}
}

func TestFlux2ValuesMeanTheSame(t *testing.T) {
	objs := render(t, map[string]any{
		"prometheus":       map[string]any{"podMonitor": map[string]any{"create": true}},
		"imagePullSecrets": []any{map[string]any{"name": "regcred"}},
		"tolerations":      []any{map[string]any{"key": "a", "operator": "Exists"}},
		"nodeSelector":     map[string]any{"pool": "gitops"},
		"resources":        map[string]any{"limits": map[string]any{"memory": "2Gi"}},
		"kustomizeController": map[string]any{
			"container":   map[string]any{"additionalArgs": []any{"--concurrent=20"}},
			"tolerations": []any{map[string]any{"key": "b", "operator": "Exists"}},
		},
		"policies": map[string]any{"create": false},
	})
	if objs["PodMonitor/weir"] == nil {
		t.Error("prometheus.podMonitor.create made no PodMonitor")
	}
	if objs["NetworkPolicy/allow-egress"] != nil {
		t.Error("policies.create=false still renders NetworkPolicies")
	}
	dep, err := yaml.Marshal(objs["Deployment/weir"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: regcred", "key: a", "key: b", "pool: gitops", "memory: 2Gi", "--concurrent=20", "maxUnavailable: 0"} {
		if !bytes.Contains(dep, []byte(want)) {
			t.Errorf("Deployment lacks %q:\n%s", want, dep)
		}
	}
	for _, name := range []string{"Service/weir", "Service/webhook-receiver", "Service/notification-controller", "ClusterRoleBinding/weir-reconciler", "ServiceAccount/weir"} {
		if objs[name] == nil {
			t.Errorf("%s not rendered", name)
		}
	}
}

// TestUIValue serves the web UI when ui.enabled is set, and not otherwise.
func TestUIValue(t *testing.T) {
	off := render(t, map[string]any{})
	if off["Service/weir-ui"] != nil {
		t.Error("the UI's Service is rendered by default")
	}
	on := render(t, map[string]any{"ui": map[string]any{"enabled": true}})
	if on["Service/weir-ui"] == nil {
		t.Error("ui.enabled renders no weir-ui Service")
	}
	dep, err := yaml.Marshal(on["Deployment/weir"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--ui-addr=:9080", "containerPort: 9080"} {
		if !bytes.Contains(dep, []byte(want)) {
			t.Errorf("Deployment lacks %q", want)
		}
	}
	np, err := yaml.Marshal(on["NetworkPolicy/allow-webhooks"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(np, []byte("port: 9080")) {
		t.Errorf("the NetworkPolicy does not open the UI's port:\n%s", np)
	}
}

// TestDirectoryInstallsTheSameCRDs loads charts/weir as `helm install weir charts/weir` does.
func TestDirectoryInstallsTheSameCRDs(t *testing.T) {
	dir, err := loader.LoadDir("weir")
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := Package("v0.0.0-dev")
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(dir.CRDObjects()), len(pkg.CRDObjects()); got != want || got == 0 {
		t.Fatalf("chart directory has %d CRDs, the package %d", got, want)
	}
}
