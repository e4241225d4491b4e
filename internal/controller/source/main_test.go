package source_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
)

var env *testenv.Env

// limitsLabel marks the objects of managers that tests start with their own options.
const limitsLabel = "weir.test/limits"

// TestMain runs the tests on one control plane with weir's GitRepository controller running
// in-process.
func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, testenv.Options{}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "ocirepository", "bucket", "helmrepository", "helmchart"}
		// Objects labelled limitsLabel belong to the managers tests start with other limits.
		o.WatchLabelSelector = "!" + limitsLabel
	})))
}

// waitReady waits until the GitRepository's Ready condition has the wanted status and
// returns the object.
func waitReady(t *testing.T, key client.ObjectKey, status metav1.ConditionStatus, check func(*sourcev1.GitRepository) error) *sourcev1.GitRepository {
	t.Helper()
	return waitSource(t, key, &sourcev1.GitRepository{}, status, check)
}

// conditioned is a source object with conditions.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
}

// waitSource waits until the object at key (read into obj) has Ready with the wanted status for
// its generation and check (when given) passes, and returns it.
func waitSource[T conditioned](t *testing.T, key client.ObjectKey, obj T, status metav1.ConditionStatus, check func(T) error) T {
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

// fetchArtifact downloads the artifact from its advertised URL and checks its digest.
func fetchArtifact(t *testing.T, obj *sourcev1.GitRepository) []byte {
	t.Helper()
	return fetchStored(t, obj.Status.Artifact)
}

// fetchStored downloads an artifact from its advertised URL and checks its digest.
func fetchStored(t *testing.T, a *meta.Artifact) []byte {
	t.Helper()
	data, err := getStored(t, a)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func getArtifact(t *testing.T, obj *sourcev1.GitRepository) ([]byte, error) {
	return getStored(t, obj.Status.Artifact)
}

func getStored(t *testing.T, a *meta.Artifact) ([]byte, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", a.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", a.URL, resp.StatusCode)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(data)); got != a.Digest {
		return nil, fmt.Errorf("served artifact digest %s, status says %s", got, a.Digest)
	}
	return data, nil
}
