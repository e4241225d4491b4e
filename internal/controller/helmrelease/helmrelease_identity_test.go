package helmrelease_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
)

// TestHelmReleaseImpersonation: with spec.serviceAccountName the release is installed as that
// ServiceAccount: refused (Forbidden, InstallFailed) while it has no rights in the namespace,
// installed once a Role grants them.
func TestHelmReleaseImpersonation(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	hr := release(ns, "app", "*", "")
	hr.Spec.ServiceAccountName = "deployer"
	create(t, helmRepository(ns, charts.URL()), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"}}, hr)
	key := client.ObjectKey{Namespace: ns, Name: "app"}
	waitRelease(t, key, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
		if !strings.Contains(c.Message, "forbidden") || !strings.Contains(c.Message, "system:serviceaccount:"+ns+":deployer") {
			return fmt.Errorf("Ready %s %q, want a refusal naming the ServiceAccount", c.Reason, c.Message)
		}
		return nil
	})
	if _, err := configMapData(t, ns, "app-cm"); err == nil {
		t.Fatal("the release was installed without the ServiceAccount's rights")
	}
	create(t,
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployer"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "deployer"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "deployer"}}})
	env.RequestReconcile(t, hrRef(key))
	waitRelease(t, key, metav1.ConditionTrue, func(*helmv2.HelmRelease) error {
		if _, err := configMapData(t, ns, "app-cm"); err != nil {
			return err
		}
		return nil
	})
}

// TestHelmReleaseKubeConfig: with spec.kubeConfig.secretRef the release is installed with the
// kubeconfig of the Secret (here, of the same cluster), and a missing Secret is reported.
func TestHelmReleaseKubeConfig(t *testing.T) {
	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0", ""))
	ns := env.Namespace(t)
	kubeconfig, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	remote := release(ns, "remote", "*", "")
	remote.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: "cluster-kubeconfig", Key: "value"}}
	missing := release(ns, "missing", "*", "")
	missing.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: "absent", Key: "value"}}
	create(t, helmRepository(ns, charts.URL()),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cluster-kubeconfig"}, Data: map[string][]byte{"value": kubeconfig}},
		remote, missing)
	waitRelease(t, client.ObjectKey{Namespace: ns, Name: "remote"}, metav1.ConditionTrue, func(*helmv2.HelmRelease) error {
		_, err := configMapData(t, ns, "remote-cm")
		return err
	})
	gone := waitRelease(t, client.ObjectKey{Namespace: ns, Name: "missing"}, metav1.ConditionFalse, func(hr *helmv2.HelmRelease) error {
		if c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready"); !strings.Contains(c.Message, "absent") {
			return fmt.Errorf("Ready %q, want the missing kubeconfig Secret named", c.Message)
		}
		return nil
	})
	// Deleting it does not hang on the uninstall it cannot do.
	if err := env.Client.Delete(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(gone), &helmv2.HelmRelease{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("the HelmRelease is still there (%w)", err)
	})
}
