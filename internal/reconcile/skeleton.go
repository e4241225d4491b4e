package reconcile

import (
	"context"
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
)

// Object is a Flux object the skeleton reconciles.
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
}

// Outcome is what one run of a controller's steps did; Err is nil on success.
type Outcome interface {
	Err() error
}

// Fields are the parts of an object's spec and status the skeleton reads and writes.
type Fields struct {
	Conditions             *[]metav1.Condition
	ObservedGeneration     *int64
	LastHandledReconcileAt *string
	Suspended              bool
	// Interval is the declared interval; zero means the kind reconciles on events only.
	Interval time.Duration
	// RetryInterval is the failure requeue; zero means Interval.
	RetryInterval time.Duration
	// Revision is the revision the object last applied or stored, for the metrics.
	Revision string
}

// Steps are what a controller supplies to the Skeleton: its kind's fields and steps, nothing of
// the prelude or the outcome.
type Steps[T Object, O Outcome] interface {
	// Fields returns obj's generic fields.
	Fields(obj T) Fields
	// Run performs the kind's ordered steps. progress writes a message about a step that can
	// take long (Reconciling=True, Ready=Unknown) to the API at once, with what the steps
	// already put in the status.
	Run(ctx context.Context, obj T, progress func(msg string)) O
	// Summarize writes the outcome into the kind's conditions and status fields. The skeleton
	// has already handled an in-progress outcome, and sets observedGeneration afterwards.
	Summarize(obj T, out O, took time.Duration)
	// Report records the events of a successful run, or of changes a failed one made; the
	// skeleton records the failure itself.
	Report(obj T, out O, took time.Duration)
	// EventMetadata is the metadata of the failure event (the revision attempted …).
	EventMetadata(obj T, out O) map[string]string
	// Requeue may adjust what comes next (a work-queue priority, an immediate rerun).
	Requeue(obj T, out O, res ctrl.Result) ctrl.Result
	// Finalize cleans up when obj is deleted; the skeleton then removes the finalizer. An
	// error is reported as Ready=False and retried.
	Finalize(ctx context.Context, obj T) error
	// Forget drops what the controller keeps in memory about a deleted object.
	Forget(key types.NamespacedName)
}

// Skeleton is the one Reconcile of every weir controller:
//
//  1. get the object (gone: forget it, drop its metrics);
//  2. create the status patcher before any change;
//  3. deletion: Finalize, then remove the finalizer (a Finalize error becomes Ready=False);
//  4. add the finalizer;
//  5. suspended: record the state and stop;
//  6. run the steps, which may write progress as they go;
//  7. one deferred outcome: reconcile.fluxcd.io/requestedAt → status.lastHandledReconcileAt;
//     an in-progress outcome is Reconciling=True / Ready=Unknown, any other is summarised by
//     the kind; observedGeneration is set by one rule (below); a failure other than waiting
//     and in progress raises a Warning event, success events are the kind's; the duration and
//     state metrics are recorded; Retry maps the outcome to the ctrl.Result, never an error.
//
// observedGeneration rule, for every kind: it becomes the object's generation at the end of
// every reconcile of that generation whatever its outcome, except while the work is in
// progress, so that Ready (with its own observedGeneration) always speaks of the generation
// status.observedGeneration names.
type Skeleton[T Object, O Outcome] struct {
	Client   client.Client
	Recorder *event.Recorder
	Retry    *Retry
	// GroupVersion and Kind name the kind in the metrics.
	GroupVersion schema.GroupVersion
	Kind         string
	// New returns an empty object of the kind.
	New   func() T
	Steps Steps[T, O]
	// Gate, when set, decides which objects this process reconciles (automatic sharding); nil
	// means the Gate of the context (WithGate, which the manager sets for every controller),
	// and none at all means every object.
	Gate Gate
}

// Gate decides whether this process may reconcile an object now. Begin returns ok=false for an
// object another process owns, which the skeleton then leaves alone: no status write, no
// requeue. Otherwise the reconcile runs under the returned context and calls done when it
// no longer touches the object.
type Gate interface {
	Begin(ctx context.Context, obj client.Object) (_ context.Context, done func(), ok bool)
}

type gateKey struct{}

// WithGate returns ctx carrying g, for the skeletons reconciling under it.
func WithGate(ctx context.Context, g Gate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// gate returns the skeleton's Gate, else the context's, else nil.
func (s *Skeleton[T, O]) gate(ctx context.Context) Gate {
	if s.Gate != nil {
		return s.Gate
	}
	g, _ := ctx.Value(gateKey{}).(Gate)
	return g
}

// Reconcile implements reconcile.Reconciler.
func (s *Skeleton[T, O]) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := s.New()
	if err := s.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if client.IgnoreNotFound(err) == nil {
			s.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return s.apiFailure(ctx, req.NamespacedName, err), nil
	}
	if g := s.gate(ctx); g != nil {
		gctx, done, ok := g.Begin(ctx, obj)
		if !ok {
			ctrl.LoggerFrom(ctx).V(1).Info("not owned by this replica")
			return ctrl.Result{}, nil
		}
		ctx = gctx
		defer done()
	}
	// The start and end lines bracket every write of the reconcile (the end one is the last
	// deferred call): the automatic sharding test checks from them that no object is
	// reconciled by two replicas at once.
	log := ctrl.LoggerFrom(ctx)
	log.V(1).Info("reconcile started")
	defer func() { log.V(1).Info("reconcile finished") }()
	patcher := NewPatcher(s.Client, obj)
	if !obj.GetDeletionTimestamp().IsZero() {
		return s.finalize(ctx, req.NamespacedName, obj, patcher)
	}
	if controllerutil.AddFinalizer(obj, compat.Finalizer) {
		if err := patcher.Patch(ctx, obj); err != nil {
			return s.apiFailure(ctx, req.NamespacedName, err), nil
		}
	}
	res := ResourceOf(s.GroupVersion, s.Kind, obj)
	f := s.Steps.Fields(obj)
	if f.Suspended {
		ctrl.LoggerFrom(ctx).V(1).Info("reconciliation is suspended")
		RecordState(res, ReadyStatus(*f.Conditions), true, f.Revision)
		return ctrl.Result{}, nil
	}
	if *f.ObservedGeneration != obj.GetGeneration() && f.Interval > 0 {
		if msg := s.Retry.IntervalRaised("spec.interval", f.Interval); msg != "" {
			s.Recorder.Warning(obj, compat.IntervalRaisedReason, nil, "%s", msg)
		}
	}

	start := time.Now()
	var out O
	defer func() {
		took := time.Since(start)
		err := out.Err()
		f := s.Steps.Fields(obj)
		if v, ok := obj.GetAnnotations()[compat.ReconcileRequestAnnotation]; ok {
			*f.LastHandledReconcileAt = v
		}
		conds := Conditions{List: f.Conditions, Generation: obj.GetGeneration()}
		var progress *InProgressError
		if errors.As(err, &progress) {
			conds.Progressing(compat.ProgressingReason, progress.Message)
		} else {
			s.Steps.Summarize(obj, out, took)
			*f.ObservedGeneration = obj.GetGeneration()
		}
		if perr := patcher.Patch(ctx, obj); perr != nil {
			result, retErr = s.apiFailure(ctx, req.NamespacedName, perr), nil
			return
		}
		s.Steps.Report(obj, out, took)
		if err != nil && !IsWaiting(err) && !IsInProgress(err) {
			s.Recorder.Warning(obj, Reason(err, compat.ReconciliationFailedReason), s.Steps.EventMetadata(obj, out), "%s", err.Error())
		}
		RecordDuration(res, took)
		RecordState(res, ReadyStatus(*f.Conditions), false, f.Revision)
		result = s.Steps.Requeue(obj, out, s.Retry.Result(ctx, req.NamespacedName, err, f.Interval, f.RetryInterval))
	}()
	out = s.Steps.Run(ctx, obj, func(msg string) {
		f := s.Steps.Fields(obj)
		Conditions{List: f.Conditions, Generation: obj.GetGeneration()}.Progressing(compat.ProgressingReason, msg)
		if err := patcher.Patch(ctx, obj); err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("cannot record progress", "error", err.Error())
		}
	})
	return result, retErr
}

// apiFailure is the retry of a reconcile the API server failed (the object could not be read
// or its status written): the per-object backoff of --min-retry-delay and --max-retry-delay,
// not controller-runtime's own rate limiter, which doubles up to 1,000 s and would leave an
// object minutes behind after an outage of the API server.
func (s *Skeleton[T, O]) apiFailure(ctx context.Context, key types.NamespacedName, err error) ctrl.Result {
	return s.Retry.Result(ctx, key, err, 0, BackoffOnly)
}

// finalize runs the kind's clean-up, then lets the object go.
func (s *Skeleton[T, O]) finalize(ctx context.Context, key types.NamespacedName, obj T, patcher *Patcher) (ctrl.Result, error) {
	if err := s.Steps.Finalize(ctx, obj); err != nil {
		f := s.Steps.Fields(obj)
		Conditions{List: f.Conditions, Generation: obj.GetGeneration()}.NotReady(
			Reason(err, compat.ReconciliationFailedReason), "finalization failed: "+err.Error(), false)
		if perr := patcher.Patch(ctx, obj); perr != nil {
			return s.apiFailure(ctx, key, errors.Join(err, perr)), nil
		}
		s.Recorder.Warning(obj, Reason(err, compat.ReconciliationFailedReason), nil, "finalization failed: %s", err.Error())
		return s.Retry.Result(ctx, key, err, 0, 0), nil
	}
	controllerutil.RemoveFinalizer(obj, compat.Finalizer)
	if err := patcher.Patch(ctx, obj); err != nil {
		return s.apiFailure(ctx, key, err), nil
	}
	s.forget(key)
	return ctrl.Result{}, nil
}

// forget drops what is known of a gone object: its retries, the kind's memory, its metrics.
func (s *Skeleton[T, O]) forget(key types.NamespacedName) {
	s.Retry.Forget(key)
	s.Steps.Forget(key)
	DeleteMetrics(Resource{Group: s.GroupVersion.Group, Version: s.GroupVersion.Version, Kind: s.Kind, Namespace: key.Namespace, Name: key.Name})
}
