package healthwatch

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/weirgitops/weir/internal/faultpoint"
	"github.com/weirgitops/weir/internal/health"
)

// Watcher wakes waiters when the objects they wait on change. One Watcher serves one
// controller: notify enqueues that controller's object.
type Watcher struct {
	cache  cache.Cache
	scheme *runtime.Scheme
	api    client.Reader
	mapper apimeta.RESTMapper
	notify func(types.NamespacedName)

	mu sync.Mutex
	// waiters maps a watched object to the waiters that wait on it.
	waiters map[objectKey]map[types.NamespacedName]struct{}
	// watched lists, per waiter, the objects it waits on.
	watched map[types.NamespacedName][]objectKey
	// kinds records the informers (kinds, typed or unstructured) that have this Watcher's
	// handler.
	kinds map[informerKey]bool
}

// informerKey names one informer: a kind, read typed or unstructured.
type informerKey struct {
	gvk          schema.GroupVersionKind
	unstructured bool
}

// objectKey names a watched object: group, kind, namespace and name (the version is left out,
// as every version of an object is the same object).
type objectKey struct {
	group, kind, namespace, name string
}

func keyOf(id health.ObjectID) objectKey {
	return objectKey{group: id.Group, kind: id.Kind, namespace: id.Namespace, name: id.Name}
}

// New returns a Watcher that reads through c (the manager's cache), falls back to api (an
// uncached reader) for objects c cannot serve, resolves versions with mapper and calls notify
// with the waiter of every object that changes. Kinds that scheme knows are watched as typed
// objects (see newObject).
func New(c cache.Cache, scheme *runtime.Scheme, api client.Reader, mapper apimeta.RESTMapper, notify func(types.NamespacedName)) *Watcher {
	return &Watcher{
		cache: c, scheme: scheme, api: api, mapper: mapper, notify: notify,
		waiters: map[objectKey]map[types.NamespacedName]struct{}{},
		watched: map[types.NamespacedName][]objectKey{},
		kinds:   map[informerKey]bool{},
	}
}

// Status is what Check found.
type Status struct {
	// Objects are the statuses of the checked objects, in the order given.
	Objects []health.ObjectStatus
	// Polled is set when some object could not be watched and was read from the API server:
	// no event will announce its changes, so the caller retries on a timer.
	Polled bool
}

// Check registers waiter as waiting on ids (replacing what it waited on before), makes sure
// their kinds are watched, and returns their health as eval judges it.
func (w *Watcher) Check(ctx context.Context, waiter types.NamespacedName, ids []health.ObjectID, eval *health.Evaluator) Status {
	w.register(waiter, ids)
	var st Status
	for _, id := range ids {
		os, polled := w.objectHealth(ctx, eval, id)
		st.Objects = append(st.Objects, os)
		st.Polled = st.Polled || polled
	}
	return st
}

// Forget drops every registration of waiter.
func (w *Watcher) Forget(waiter types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(waiter)
}

func (w *Watcher) forgetLocked(waiter types.NamespacedName) {
	for _, k := range w.watched[waiter] {
		if set := w.waiters[k]; set != nil {
			delete(set, waiter)
			if len(set) == 0 {
				delete(w.waiters, k)
			}
		}
	}
	delete(w.watched, waiter)
}

func (w *Watcher) register(waiter types.NamespacedName, ids []health.ObjectID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(waiter)
	keys := make([]objectKey, 0, len(ids))
	for _, id := range ids {
		k := keyOf(id)
		keys = append(keys, k)
		if w.waiters[k] == nil {
			w.waiters[k] = map[types.NamespacedName]struct{}{}
		}
		w.waiters[k][waiter] = struct{}{}
	}
	w.watched[waiter] = keys
}

// objectHealth reads one object, through its kind's informer when it can, and evaluates it.
func (w *Watcher) objectHealth(ctx context.Context, eval *health.Evaluator, id health.ObjectID) (health.ObjectStatus, bool) {
	gvk := schema.GroupVersionKind{Group: id.Group, Version: id.Version, Kind: id.Kind}
	if gvk.Version == "" {
		if m, err := w.mapper.RESTMapping(schema.GroupKind{Group: id.Group, Kind: id.Kind}); err == nil {
			gvk.Version = m.GroupVersionKind.Version
			id.Version = gvk.Version
		}
	}
	obj := w.newObject(gvk, eval)
	key := client.ObjectKey{Namespace: id.Namespace, Name: id.Name}
	polled := false
	err := w.watchKind(ctx, gvk, obj)
	if err == nil {
		err = w.cache.Get(ctx, key, obj)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		// Not served by the cache (unknown kind, namespace outside the cache): read it.
		polled = true
		err = w.api.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return health.ObjectStatus{ID: id, Result: health.Result{Status: status.NotFoundStatus, Message: "not found"}}, polled
	}
	if err != nil {
		return health.ObjectStatus{ID: id, Result: health.Result{Status: status.UnknownStatus}, Err: err}, polled
	}
	u, err := asUnstructured(obj, gvk)
	if err != nil {
		return health.ObjectStatus{ID: id, Result: health.Result{Status: status.UnknownStatus}, Err: err}, polled
	}
	res, err := eval.Status(ctx, u)
	return health.ObjectStatus{ID: id, Result: res, Err: err}, polled
}

// newObject returns the object to read gvk into: a typed one when the scheme knows the kind
// and no CEL rule of eval judges it, unstructured otherwise. Informers of typed objects hold a
// third of the memory of the same objects unstructured (at 10,000 applications the health
// checks' informers were 41 % of the heap), and share the controllers' own informers of Flux
// kinds; kstatus reads only fields the types have. CEL rules may read any field, so their
// kinds are read whole.
func (w *Watcher) newObject(gvk schema.GroupVersionKind, eval *health.Evaluator) client.Object {
	if w.scheme != nil && !eval.HasRule(gvk) {
		if o, err := w.scheme.New(gvk); err == nil {
			if co, ok := o.(client.Object); ok {
				return co
			}
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// asUnstructured returns obj as the unstructured object the evaluator reads.
func asUnstructured(obj client.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// watchKind adds this Watcher's handler to the informer of gvk (typed or unstructured, as obj
// is), starting it if needed.
func (w *Watcher) watchKind(ctx context.Context, gvk schema.GroupVersionKind, obj client.Object) error {
	_, unstr := obj.(*unstructured.Unstructured)
	k := informerKey{gvk: gvk, unstructured: unstr}
	w.mu.Lock()
	done := w.kinds[k]
	w.mu.Unlock()
	if done {
		return nil
	}
	inf, err := w.cache.GetInformer(ctx, obj.DeepCopyObject().(client.Object))
	if err != nil {
		return fmt.Errorf("watch %s: %w", gvk.Kind, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kinds[k] {
		return nil
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.changed(gvk, o) },
		UpdateFunc: func(_, o any) { w.changed(gvk, o) },
		DeleteFunc: func(o any) { w.changed(gvk, o) },
	}); err != nil {
		return fmt.Errorf("watch %s: %w", gvk.Kind, err)
	}
	w.kinds[k] = true
	return nil
}

// changed wakes the waiters of the object o of kind gvk.
func (w *Watcher) changed(gvk schema.GroupVersionKind, o any) {
	// This runs in the informer's goroutine, where a panic would end the process: it is
	// logged, and the waiters still find the object's health at their next check.
	defer func() {
		if r := recover(); r != nil {
			logf.Log.WithName("healthwatch").Error(fmt.Errorf("%v", r), "panic while waking the health waiters", "kind", gvk.Kind, "stack", string(debug.Stack()))
		}
	}()
	faultpoint.Hit(faultpoint.HealthWaiting)
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	k := objectKey{group: gvk.Group, kind: gvk.Kind, namespace: obj.GetNamespace(), name: obj.GetName()}
	w.mu.Lock()
	waiters := make([]types.NamespacedName, 0, len(w.waiters[k]))
	for waiter := range w.waiters[k] {
		waiters = append(waiters, waiter)
	}
	w.mu.Unlock()
	for _, waiter := range waiters {
		w.notify(waiter)
	}
}
