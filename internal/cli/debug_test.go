package cli_test

import (
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestDebugHelmRelease: --show-values prints the values composed from valuesFrom (Secret
// values masked unless --show-secrets) and inline values; --show-status prints the
// HelmRelease's status and its HelmChart's; --show-history the history; no or two flags are
// refused.
func TestDebugHelmRelease(t *testing.T) {
	ns := env.Namespace(t)
	seedHelm(t, ns)
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "base"}, Data: map[string]string{"values.yaml": "replicas: 2\nimage:\n  tag: v1\n"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"}, StringData: map[string]string{"values.yaml": "db:\n  password: hunter2-very-secret\n"}},
	} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	var hr helmv2.HelmRelease
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "podinfo"}, &hr); err != nil {
		t.Fatal(err)
	}
	hr.Spec.ValuesFrom = []helmv2.ValuesReference{{Kind: "ConfigMap", Name: "base"}, {Kind: "Secret", Name: "creds"}}
	hr.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"image":{"tag":"v2"}}`)}
	if err := env.Client.Update(t.Context(), &hr); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := weir(t, nil, "debug", "hr", "podinfo", "--show-values", "-n", ns)
	want := "db:\n  password: '****'\nimage:\n  tag: v2\nreplicas: 2\n"
	if code != 0 || out != want {
		t.Errorf("--show-values: exit %d, stderr %q\n got %q\nwant %q", code, errOut, out, want)
	}
	out, _, code = weir(t, nil, "debug", "hr", "podinfo", "--show-values", "--show-secrets", "-n", ns)
	if code != 0 || !strings.Contains(out, "password: hunter2-very-secret") {
		t.Errorf("--show-secrets: exit %d, %q", code, out)
	}
	out, _, code = weir(t, nil, "debug", "hr", "podinfo", "--show-status", "-n", ns)
	if code != 0 || !strings.Contains(out, "# Status of HelmRelease "+ns+"/podinfo") || !strings.Contains(out, "Helm install succeeded") ||
		!strings.Contains(out, "# Status of HelmChart "+ns+"/"+ns+"-podinfo") || !strings.Contains(out, "pulled 'podinfo' chart") {
		t.Errorf("--show-status: exit %d\n%s", code, out)
	}
	out, _, code = weir(t, nil, "debug", "hr", "podinfo", "--show-history", "-n", ns)
	if code != 0 || !strings.Contains(out, "chartVersion: 6.5.0") {
		t.Errorf("--show-history: exit %d\n%s", code, out)
	}
	if _, errOut, code := weir(t, nil, "debug", "hr", "podinfo", "-n", ns); code == 0 || !strings.Contains(errOut, "exactly one of --show-status, --show-values or --show-history") {
		t.Errorf("no flag: exit %d, %q", code, errOut)
	}
}

// TestDebugKustomizationVars: --show-vars prints the post-build variables, sorted, the inline
// ones winning, Secret values masked.
func TestDebugKustomizationVars(t *testing.T) {
	ns := env.Namespace(t)
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vars"}, Data: map[string]string{"domain": "example.org", "region": "eu"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secret-vars"}, StringData: map[string]string{"token": "tok-very-secret"}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apps"},
			Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: timeMinutes(60)}, Path: "./", Prune: true, Suspend: true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "repo"},
				PostBuild: &kustomizev1.PostBuild{Substitute: map[string]string{"region": "us"},
					SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "vars"}, {Kind: "Secret", Name: "secret-vars"}}}}},
	} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := weir(t, nil, "debug", "ks", "apps", "--show-vars", "-n", ns)
	if want := "domain=example.org\nregion=us\ntoken=****\n"; code != 0 || out != want {
		t.Errorf("--show-vars: exit %d, stderr %q\n got %q\nwant %q", code, errOut, out, want)
	}
}
