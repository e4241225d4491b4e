package helmrelease_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

// TestMain runs the tests on one control plane (kube-controller-manager included, for
// namespaces and garbage collection) with weir's source and HelmRelease controllers in-process.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{ControllerManager: true}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"helmrepository", "helmchart", "ocirepository", "helmrelease"}
		o.RequeueDependency = 2 * time.Second
	})))
}

// waitRelease waits until the HelmRelease's Ready condition has status for its generation and
// check passes.
func waitRelease(t *testing.T, key client.ObjectKey, status metav1.ConditionStatus, check func(*helmv2.HelmRelease) error) *helmv2.HelmRelease {
	t.Helper()
	var hr helmv2.HelmRelease
	testenv.Eventually(t, 90*time.Second, func() error {
		if err := env.Client.Get(t.Context(), key, &hr); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
		if c == nil || c.Status != status || hr.Status.ObservedGeneration != hr.Generation {
			return fmt.Errorf("Ready = %+v, want %s", c, status)
		}
		if check != nil {
			return check(&hr)
		}
		return nil
	})
	return &hr
}
