package image

import (
	"testing"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weirgitops/weir/internal/imagetags"
	"github.com/weirgitops/weir/internal/reconcile"
)

// TestScanDue: a reconcile that the interval's jitter brings early still scans; one that
// comes for another reason (a resync, a restart) does not.
func TestScanDue(t *testing.T) {
	store, err := imagetags.New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "apps", Name: "app"}
	tags, err := store.Set(key, []string{"1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	scanned := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	obj := &imagev1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Generation: 1},
		Spec:       imagev1.ImageRepositorySpec{Image: "ghcr.io/org/app", Interval: metav1.Duration{Duration: 10 * time.Minute}},
		Status: imagev1.ImageRepositoryStatus{ObservedGeneration: 1, CanonicalImageName: "ghcr.io/org/app",
			ObservedExclusionList: (&imagev1.ImageRepository{}).GetExclusionList(),
			LastScanResult:        &imagev1.ScanResult{Revision: "sha256:" + tags.Revision, ScanTime: metav1.NewTime(scanned)}},
	}
	cases := map[string]struct {
		after time.Duration
		due   bool
	}{
		"resync soon after":        {time.Minute, false},
		"jittered 5 % early":       {9*time.Minute + 31*time.Second, true},
		"on time":                  {10 * time.Minute, true},
		"well before the interval": {8 * time.Minute, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := &ImageRepositoryReconciler{Tags: store, Retry: &reconcile.Retry{}, Now: func() time.Time { return scanned.Add(tc.after) }}
			if _, due := r.scanDue(obj, key, "ghcr.io/org/app"); due != tc.due {
				t.Errorf("due = %v, want %v", due, tc.due)
			}
		})
	}
}

// TestScanRequeue: after a reconcile that did not scan, the next one comes when the last
// scan's interval ends, not a whole interval later.
func TestScanRequeue(t *testing.T) {
	scanned := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	obj := &imagev1.ImageRepository{
		Spec:   imagev1.ImageRepositorySpec{Interval: metav1.Duration{Duration: 10 * time.Minute}},
		Status: imagev1.ImageRepositoryStatus{LastScanResult: &imagev1.ScanResult{ScanTime: metav1.NewTime(scanned)}},
	}
	r := &ImageRepositoryReconciler{Retry: &reconcile.Retry{}, Now: func() time.Time { return scanned.Add(7 * time.Minute) }}
	if got := r.Requeue(obj, outcome{}, ctrl.Result{RequeueAfter: 10 * time.Minute}); got.RequeueAfter != 3*time.Minute {
		t.Errorf("requeue after %s, want 3m", got.RequeueAfter)
	}
	r.Now = func() time.Time { return scanned.Add(time.Second) }
	if got := r.Requeue(obj, outcome{}, ctrl.Result{RequeueAfter: 9*time.Minute + 50*time.Second}); got.RequeueAfter != 9*time.Minute+50*time.Second {
		t.Errorf("after a scan the skeleton's jittered interval stands; got %s", got.RequeueAfter)
	}
}
