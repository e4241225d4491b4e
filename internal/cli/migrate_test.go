package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
)

const oldManifests = `apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata:
  name: apps # keep this comment
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
`

func TestMigrateFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ks := write("clusters/apps.yaml", oldManifests, 0o640)
	tpl := write("charts/x/templates/repo.tpl", "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\n", 0o644)
	write("current.yml", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n", 0o644)
	outside := filepath.Join(t.TempDir(), "outside.yaml")
	if err := os.WriteFile(outside, []byte(oldManifests), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := weir(t, nil, "migrate", "-f", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "✚ "+ks+":1: Kustomization v1beta2 -> v1\n") ||
		!strings.Contains(out, "✔ dry-run mode enabled, no changes will be made") || !strings.Contains(errOut, "⚠ skipping irregular file "+filepath.Join(dir, "link.yaml")) {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if data, _ := os.ReadFile(ks); string(data) != oldManifests {
		t.Fatalf("dry run changed the file:\n%s", data)
	}

	// Without --yes and without a terminal, nothing is written.
	if out, _, code := weir(t, []byte("y\n"), "migrate", "-f", dir); code == 0 {
		t.Fatalf("migrate without --yes on a pipe: exit 0\n%s", out)
	}

	out, errOut, code = weir(t, nil, "migrate", "--path", dir, "--extensions=.yaml,.yml,.tpl", "--yes")
	if code != 0 || !strings.Contains(out, "✔ file "+ks+" migrated successfully") || !strings.Contains(out, "✔ file "+tpl+" migrated successfully") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	data, _ := os.ReadFile(ks)
	if want := strings.Replace(oldManifests, "/v1beta2", "/v1", 1); string(data) != want {
		t.Errorf("migrated file:\n%s\nwant:\n%s", data, want)
	}
	if info, _ := os.Stat(ks); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", info.Mode().Perm())
	}
	if data, _ := os.ReadFile(tpl); !strings.HasPrefix(string(data), "apiVersion: image.toolkit.fluxcd.io/v1\n") {
		t.Errorf("template not migrated:\n%s", data)
	}
	if data, _ := os.ReadFile(outside); string(data) != oldManifests {
		t.Errorf("the symbolic link's target outside the path was changed:\n%s", data)
	}

	// To Flux 2.6 the image kinds stay at v1beta2; an unknown version is refused.
	f26 := write("f26/policy.yaml", "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImagePolicy\n", 0o644)
	if out, errOut, code := weir(t, nil, "migrate", "-f", f26, "-v", "2.6", "-y"); code != 0 || !strings.Contains(out, "ImagePolicy v1beta1 -> v1beta2") {
		t.Errorf("--version 2.6: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := weir(t, nil, "migrate", "-f", dir, "--version", "1.0"); code == 0 || !strings.Contains(errOut, "supported versions are: 2.9, 2.8, 2.7, 2.6") {
		t.Errorf("--version 1.0: exit %d: %s", code, errOut)
	}
}

// TestMigrateCluster moves a CRD's storage version from v1beta1 to v1, as a Flux upgrade does,
// and checks that migrate re-writes its objects and leaves only v1 in storedVersions.
func TestMigrateCluster(t *testing.T) {
	ctx := t.Context()
	ns := env.Namespace(t)
	group := "migrate" + strings.TrimPrefix(ns, "t-") + ".toolkit.fluxcd.io"
	schemaProps := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object", XPreserveUnknownFields: ptrTo(true)}}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1beta1", Served: true, Storage: true, Schema: schemaProps},
				{Name: "v1", Served: true, Storage: false, Schema: schemaProps},
			},
		},
	}
	if err := env.Client.Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context is cancelled by the time cleanups run.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = env.Client.Delete(cctx, crd)
	})
	testenv.Eventually(t, 30*time.Second, func() error {
		var c apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), &c); err != nil {
			return err
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return errorf("CRD %s not established", crd.Name)
	})
	w := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"size": int64(3)}}}
	w.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: "v1beta1", Kind: "Widget"})
	w.SetNamespace(ns)
	w.SetName("w1")
	testenv.Eventually(t, 30*time.Second, func() error {
		return env.Client.Create(ctx, w.DeepCopy(), client.FieldOwner("test"))
	})

	// Storage moves to v1; v1beta1 stays served: storedVersions is now [v1beta1 v1].
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
		t.Fatal(err)
	}
	crd.Spec.Versions[0].Storage, crd.Spec.Versions[1].Storage = false, true
	if err := env.Client.Update(ctx, crd); err != nil {
		t.Fatal(err)
	}
	storedVersions := func() []string {
		var c apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), &c); err != nil {
			t.Fatal(err)
		}
		return c.Status.StoredVersions
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if got := storedVersions(); !slices.Contains(got, "v1") {
			return errorf("storedVersions %v", got)
		}
		return nil
	})

	out, errOut, code := weir(t, nil, "migrate", "--dry-run")
	if code != 0 || !strings.Contains(out, "► Widget/"+ns+"/w1 would be migrated to version v1") ||
		!strings.Contains(out, "► widgets."+group+" would be migrated to storage version v1 (stored versions: v1beta1, v1)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "kustomizations.kustomize.toolkit.fluxcd.io") {
		t.Errorf("dry run lists a CRD stored at its storage version only:\n%s", out)
	}
	if got := storedVersions(); len(got) != 2 {
		t.Fatalf("dry run changed storedVersions: %v", got)
	}

	before := getWidget(t, group, ns)
	out, errOut, code = weir(t, nil, "migrate")
	if code != 0 || !strings.Contains(out, "✔ Widget/"+ns+"/w1 migrated to version v1") ||
		!strings.Contains(out, "✔ widgets."+group+" migrated to storage version v1") || !strings.HasSuffix(out, "✔ custom resources migrated successfully\n") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	if got := storedVersions(); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("storedVersions = %v, want [v1]", got)
	}
	after := getWidget(t, group, ns)
	if after.GetResourceVersion() == before.GetResourceVersion() {
		t.Errorf("the Widget was not written again (resourceVersion %s)", after.GetResourceVersion())
	}
	for _, mf := range after.GetManagedFields() {
		if mf.APIVersion != group+"/v1" {
			t.Errorf("managed fields of %s at %s, want %s/v1", mf.Manager, mf.APIVersion, group)
		}
	}
	if size, _, _ := unstructured.NestedInt64(after.Object, "spec", "size"); size != 3 {
		t.Errorf("spec changed: %v", after.Object["spec"])
	}
}

func getWidget(t *testing.T, group, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: "v1", Kind: "Widget"})
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "w1"}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func ptrTo[T any](v T) *T { return &v }
