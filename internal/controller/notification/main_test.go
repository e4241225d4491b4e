package notification_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

var (
	env *testenv.Env
	// receiverURL and eventsURL are where the manager serves webhooks and the events endpoint.
	receiverURL, eventsURL string
)

// TestMain runs the tests on one control plane with weir's GitRepository, Kustomization,
// Receiver and notification controllers in-process.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{ControllerManager: true}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "kustomization", "receiver", "notification"}
		addr, err := testenv.FreeAddr()
		if err != nil {
			panic(err)
		}
		o.EventsListenAddr = addr
		eventsURL = "http://" + addr + "/"
		receiverURL = "http://" + o.ReceiverAddr
	})))
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func gitRepository(ns, name, url string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{URL: url, Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}}
}

func kustomization(ns, name, path, repo string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Hour}, Path: path, Prune: true,
			TargetNamespace: ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: repo}}}
}

func configMapYAML(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

// waitReady waits until obj's Ready condition is True for its generation, then check passes.
func waitReady[T client.Object](t *testing.T, obj T, conds func(T) []metav1.Condition, check func(T) error) T {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, func() error {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(conds(obj), "Ready")
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("%s Ready = %+v", obj.GetName(), c)
		}
		if check != nil {
			return check(obj)
		}
		return nil
	})
	return obj
}
