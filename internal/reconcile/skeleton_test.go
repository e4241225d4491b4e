package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/weirgitops/weir/internal/reconcile"
)

// done is the outcome of the test steps.
type done struct{}

func (done) Err() error { return nil }

// steps records whether the skeleton ran them.
type steps struct{ ran bool }

func (s *steps) Fields(o *sourcev1.GitRepository) reconcile.Fields {
	return reconcile.Fields{Conditions: &o.Status.Conditions, ObservedGeneration: &o.Status.ObservedGeneration,
		LastHandledReconcileAt: &o.Status.LastHandledReconcileAt}
}
func (s *steps) Run(context.Context, *sourcev1.GitRepository, func(string)) done {
	s.ran = true
	return done{}
}
func (s *steps) Summarize(o *sourcev1.GitRepository, _ done, _ time.Duration) {
	o.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", LastTransitionTime: metav1.Now()}}
}
func (s *steps) Report(*sourcev1.GitRepository, done, time.Duration)                  {}
func (s *steps) EventMetadata(*sourcev1.GitRepository, done) map[string]string        { return nil }
func (s *steps) Requeue(_ *sourcev1.GitRepository, _ done, r ctrl.Result) ctrl.Result { return r }
func (s *steps) Finalize(context.Context, *sourcev1.GitRepository) error              { return nil }
func (s *steps) Forget(types.NamespacedName)                                          {}

// gate owns what allow says, and records whether a reconcile is in flight when the status
// is written.
type gate struct {
	allow    bool
	inFlight bool
	ended    bool
}

func (g *gate) Begin(ctx context.Context, _ client.Object) (context.Context, func(), bool) {
	if !g.allow {
		return ctx, nil, false
	}
	g.inFlight = true
	return ctx, func() { g.inFlight, g.ended = false, true }, true
}

// TestSkeletonGate: an object the gate refuses is left alone (no finalizer, no status, no
// requeue); an allowed one is reconciled and stays in flight until its status is written.
func TestSkeletonGate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		allow     bool
		inContext bool
	}{
		{"refused by the skeleton's gate", false, false},
		{"allowed by the skeleton's gate", true, false},
		{"refused by the context's gate", false, true},
		{"allowed by the context's gate", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := sourcev1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			obj := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "repo", Generation: 1}}
			var writes int
			g := &gate{allow: tc.allow}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(obj).WithStatusSubresource(obj).Build()
			st := &steps{}
			s := &reconcile.Skeleton[*sourcev1.GitRepository, done]{
				Client: observed{c, func() {
					writes++
					if !g.inFlight {
						t.Error("a write outside the gate's Begin and done")
					}
				}},
				Retry: &reconcile.Retry{}, GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.GitRepositoryKind,
				New: func() *sourcev1.GitRepository { return &sourcev1.GitRepository{} }, Steps: st,
			}
			ctx := t.Context()
			if tc.inContext {
				ctx = reconcile.WithGate(ctx, g)
			} else {
				s.Gate = g
			}
			res, err := s.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "repo"}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.allow != st.ran || tc.allow != (writes > 0) || tc.allow != g.ended {
				t.Fatalf("allowed %v: ran %v, %d writes, done called %v", tc.allow, st.ran, writes, g.ended)
			}
			if !tc.allow && res != (ctrl.Result{}) {
				t.Errorf("a refused object is requeued: %+v", res)
			}
		})
	}
}

// observed is a client that calls write before every write.
type observed struct {
	client.Client
	write func()
}

func (o observed) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	o.write()
	return o.Client.Patch(ctx, obj, p, opts...)
}

func (o observed) Status() client.SubResourceWriter {
	return observedStatus{o.Client.Status(), o.write}
}

type observedStatus struct {
	client.SubResourceWriter
	write func()
}

func (o observedStatus) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	o.write()
	return o.SubResourceWriter.Patch(ctx, obj, p, opts...)
}

// TestSkeletonAPIFailuresBackOff: when the API server fails the skeleton's own reads and
// writes (an outage), the retry follows --min/--max-retry-delay and no error goes back to
// controller-runtime, whose rate limiter would double the delay up to 1,000 s.
func TestSkeletonAPIFailuresBackOff(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := sourcev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	obj := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "repo", Generation: 1}}
	outage := errors.New("connection refused")
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(obj).WithStatusSubresource(obj).
		WithInterceptorFuncs(interceptor.Funcs{
			Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
				return outage
			},
		}).Build()
	s := &reconcile.Skeleton[*sourcev1.GitRepository, done]{
		Client: c, Retry: &reconcile.Retry{MinDelay: time.Second, MaxDelay: 8 * time.Second},
		GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.GitRepositoryKind,
		New: func() *sourcev1.GitRepository { return &sourcev1.GitRepository{} }, Steps: &steps{},
	}
	var delays []time.Duration
	for range 6 {
		res, err := s.Reconcile(t.Context(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "repo"}})
		if err != nil {
			t.Fatalf("an error went back to controller-runtime: %v", err)
		}
		delays = append(delays, res.RequeueAfter)
	}
	if delays[0] < time.Second || delays[len(delays)-1] > 8*time.Second || delays[len(delays)-1] < 4*time.Second {
		t.Fatalf("retries %v, want from 1s doubling to at most 8s", delays)
	}
}
