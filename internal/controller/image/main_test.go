package image_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
)

var (
	env *testenv.Env
	// receiverURL is where the manager serves webhooks.
	receiverURL string
)

// ownLabel marks the objects of managers that tests start themselves.
const ownLabel = "weir.test/own-manager"

// TestMain runs the tests on one control plane with the image controllers, and the
// GitRepository, Kustomization and Receiver controllers for the end-to-end chain, in-process.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"imagerepository", "imagepolicy", "imageupdateautomation", "gitrepository", "kustomization", "receiver"}
		o.RequeueDependency = 2 * time.Second
		o.WatchLabelSelector = "!" + ownLabel
		receiverURL = "http://" + o.ReceiverAddr
	})))
}

// conditioned is an object with conditions.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
}

// waitReady waits until the object at key (read into obj) has Ready with the wanted status for
// its generation and check (when given) passes, and returns it.
func waitReady[T conditioned](t *testing.T, key client.ObjectKey, obj T, status metav1.ConditionStatus, check func(T) error) T {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, func() error {
		if err := env.Client.Get(t.Context(), key, obj); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(obj.GetConditions(), "Ready")
		if c == nil || c.Status != status || c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("Ready = %+v, want %s", c, status)
		}
		if check != nil {
			return check(obj)
		}
		return nil
	})
	return obj
}

// readyIs checks the Ready condition's reason and that its message holds sub.
func readyIs[T conditioned](reason, sub string) func(T) error {
	return func(o T) error {
		c := apimeta.FindStatusCondition(o.GetConditions(), "Ready")
		if c == nil || c.Reason != reason || !strings.Contains(c.Message, sub) {
			return fmt.Errorf("Ready = %+v, want reason %s and a message with %q", c, reason, sub)
		}
		return nil
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

// ociMetadata is the metadata of the test images (none).
func ociMetadata() oci.Metadata { return oci.Metadata{} }
