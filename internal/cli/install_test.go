package cli_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/install"
	"github.com/weirgitops/weir/internal/testenv"
)

// TestInstallExportAppliesAndUninstallRemoves pipes `weir install --export` into
// `kubectl apply --server-side`, then runs `weir uninstall` and checks that weir is gone while
// an object a Kustomization manages stays.
func TestInstallExportAppliesAndUninstallRemoves(t *testing.T) {
	const ns = "weir-install-test"
	// Uninstalling removes weir's CRDs, which the rest of the package's tests need.
	t.Cleanup(func() { reinstallCRDs(t) })
	manifests, stderr, code := weir(t, nil, "install", "--export", "-n", ns)
	if code != 0 {
		t.Fatalf("install --export: exit %d: %s", code, stderr)
	}
	for _, kind := range []string{"kind: CustomResourceDefinition", "kind: Namespace", "kind: ServiceAccount",
		"kind: ClusterRole", "kind: Deployment", "kind: Service", "kind: NetworkPolicy", "readOnlyRootFilesystem: true"} {
		if !strings.Contains(manifests, kind) {
			t.Errorf("install --export lacks %q", kind)
		}
	}
	kubectl := exec.CommandContext(t.Context(), testenv.Kubectl(), "--kubeconfig", env.Kubeconfig, "apply", "--server-side", "-f", "-")
	kubectl.Stdin = strings.NewReader(manifests)
	var out bytes.Buffer
	kubectl.Stdout, kubectl.Stderr = &out, &out
	if err := kubectl.Run(); err != nil {
		t.Fatalf("kubectl apply --server-side: %v\n%s", err, out.String())
	}
	var dep appsv1.Deployment
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "weir"}, &dep); err != nil {
		t.Fatalf("weir Deployment not created: %v", err)
	}

	// A Kustomization with weir's finalizer and an object it manages.
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns, Finalizers: []string{"finalizers.fluxcd.io"}},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: time.Minute},
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "flux-system"},
		},
	}
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	managed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "managed", Namespace: "default",
		Labels: map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": ns}}}
	if err := env.Client.Create(t.Context(), managed); err != nil {
		t.Fatal(err)
	}

	dry, stderr, code := weir(t, nil, "uninstall", "-n", ns, "--dry-run")
	if code != 0 {
		t.Fatalf("uninstall --dry-run: exit %d: %s", code, stderr)
	}
	if !strings.Contains(dry, "(dry run)") {
		t.Errorf("dry run output does not say so:\n%s", dry)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "weir"}, &dep); err != nil {
		t.Fatalf("dry run deleted the Deployment: %v", err)
	}

	if _, stderr, code := weir(t, nil, "uninstall", "-n", ns, "--silent"); code != 0 {
		t.Fatalf("uninstall: exit %d: %s", code, stderr)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "weir"}, &appsv1.Deployment{})
		if !apierrors.IsNotFound(err) {
			return errorf("deployment still present: %v", err)
		}
		var nsObj corev1.Namespace
		err = env.Client.Get(t.Context(), client.ObjectKey{Name: ns}, &nsObj)
		if err == nil && nsObj.DeletionTimestamp == nil {
			return errorf("namespace %s not being deleted", ns)
		}
		return nil
	})
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(managed), &corev1.ConfigMap{}); err != nil {
		t.Fatalf("uninstall deleted an object a Kustomization manages: %v", err)
	}
}

// reinstallCRDs waits for weir's CRDs to be gone after an uninstall and installs them again.
func reinstallCRDs(t *testing.T) {
	t.Helper()
	objs, err := install.Objects(install.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var crds []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		}
	}
	// t.Context is already cancelled in cleanups, and so testenv.Eventually ends at once.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gone := func() error {
		for _, crd := range crds {
			live := &apiextensionsv1.CustomResourceDefinition{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: crd.GetName()}, live); err == nil {
				if live.DeletionTimestamp != nil {
					return errorf("CRD %s is still terminating", crd.GetName())
				}
			} else if !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for err := gone(); err != nil; err = gone() {
		select {
		case <-ctx.Done():
			t.Fatalf("weir's CRDs were not removed: %v", err)
		case <-tick.C:
		}
	}
	if err := install.Apply(ctx, env.Client, crds); err != nil {
		t.Fatal(err)
	}
	if err := install.WaitCRDs(ctx, env.Client, crds); err != nil {
		t.Fatal(err)
	}
}
