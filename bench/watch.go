package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
)

// appLabel marks the ConfigMaps the harness watches (those a push changes).
const appLabel = "bench.weir.io/app"

// ksState is what the harness needs of a Kustomization's status.
type ksState struct {
	ready    bool
	revision string // status.lastAppliedRevision
	message  string
}

// watcher keeps the Kustomizations and the harness's ConfigMaps in memory from watches, so
// that waiting on thousands of objects costs the API server nothing beyond the watch, and
// the moment a change is seen is known to the event.
type watcher struct {
	mu      sync.Mutex
	ks      map[types.NamespacedName]ksState
	cms     map[types.NamespacedName]map[string]string
	first   map[types.NamespacedName]time.Time // when each Kustomization was first seen Ready
	changed chan struct{}
}

func startWatcher(ctx context.Context, cfg *rest.Config) (*watcher, error) {
	sel, err := labels.Parse(appLabel)
	if err != nil {
		return nil, err
	}
	ca, err := cache.New(cfg, cache.Options{
		Scheme:   manager.NewScheme(),
		ByObject: map[client.Object]cache.ByObject{&corev1.ConfigMap{}: {Label: sel}},
	})
	if err != nil {
		return nil, fmt.Errorf("create watch cache: %w", err)
	}
	w := &watcher{
		ks:      map[types.NamespacedName]ksState{},
		cms:     map[types.NamespacedName]map[string]string{},
		first:   map[types.NamespacedName]time.Time{},
		changed: make(chan struct{}),
	}
	ksInf, err := ca.GetInformer(ctx, &kustomizev1.Kustomization{})
	if err != nil {
		return nil, fmt.Errorf("watch kustomizations: %w", err)
	}
	if _, err := ksInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.setKS(o) },
		UpdateFunc: func(_, o any) { w.setKS(o) },
		DeleteFunc: func(o any) { w.del(o) },
	}); err != nil {
		return nil, fmt.Errorf("watch kustomizations: %w", err)
	}
	hrInf, err := ca.GetInformer(ctx, &helmv2.HelmRelease{})
	if err != nil {
		return nil, fmt.Errorf("watch helmreleases: %w", err)
	}
	if _, err := hrInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.setHR(o) },
		UpdateFunc: func(_, o any) { w.setHR(o) },
		DeleteFunc: func(o any) { w.del(o) },
	}); err != nil {
		return nil, fmt.Errorf("watch helmreleases: %w", err)
	}
	cmInf, err := ca.GetInformer(ctx, &corev1.ConfigMap{})
	if err != nil {
		return nil, fmt.Errorf("watch configmaps: %w", err)
	}
	if _, err := cmInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.setCM(o) },
		UpdateFunc: func(_, o any) { w.setCM(o) },
		DeleteFunc: func(o any) { w.del(o) },
	}); err != nil {
		return nil, fmt.Errorf("watch configmaps: %w", err)
	}
	go func() { _ = ca.Start(ctx) }()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !ca.WaitForCacheSync(sctx) {
		return nil, errors.New("watch caches did not sync")
	}
	return w, nil
}

func (w *watcher) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *watcher) setKS(o any) {
	ks, ok := o.(*kustomizev1.Kustomization)
	if !ok {
		return
	}
	w.set(ks, ks.Status.Conditions, ks.Status.ObservedGeneration, ks.Status.LastAppliedRevision)
}

// setHR records a HelmRelease like a Kustomization (workloads keep them in namespaces of
// their own), its revision the chart version it last attempted.
func (w *watcher) setHR(o any) {
	hr, ok := o.(*helmv2.HelmRelease)
	if !ok {
		return
	}
	w.set(hr, hr.Status.Conditions, hr.Status.ObservedGeneration, hr.Status.LastAttemptedRevision)
}

// set records an object's readiness for its generation and its revision.
func (w *watcher) set(obj client.Object, conds []metav1.Condition, observed int64, revision string) {
	st := ksState{revision: revision}
	if c := apimeta.FindStatusCondition(conds, "Ready"); c != nil {
		st.ready = c.Status == "True" && observed == obj.GetGeneration()
		st.message = c.Reason + ": " + c.Message
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key := client.ObjectKeyFromObject(obj)
	w.ks[key] = st
	if _, seen := w.first[key]; st.ready && !seen {
		w.first[key] = time.Now()
	}
	w.notify()
}

func (w *watcher) setCM(o any) {
	cm, ok := o.(*corev1.ConfigMap)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cms[client.ObjectKeyFromObject(cm)] = cm.Data
	w.notify()
}

func (w *watcher) del(o any) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch v := o.(type) {
	case *kustomizev1.Kustomization, *helmv2.HelmRelease:
		key := client.ObjectKeyFromObject(v.(client.Object))
		delete(w.ks, key)
		delete(w.first, key)
	case *corev1.ConfigMap:
		delete(w.cms, client.ObjectKeyFromObject(v))
	}
	w.notify()
}

// view is what a wait condition sees: the watched state, read under the watcher's lock.
type view struct{ w *watcher }

// readyIn counts the Ready Kustomizations in namespace ns, at revision when it is not empty.
func (v view) readyIn(ns, revision string) int {
	n := 0
	for k, s := range v.w.ks {
		if k.Namespace == ns && s.ready && (revision == "" || s.revision == revision) {
			n++
		}
	}
	return n
}

// configValue is the data key of a watched ConfigMap.
func (v view) configValue(key types.NamespacedName, k string) string { return v.w.cms[key][k] }

// notReady describes up to three Kustomizations of ns that are not Ready, for errors.
func (v view) notReady(ns, revision string) string {
	var out []string
	for k, s := range v.w.ks {
		if k.Namespace == ns && (!s.ready || (revision != "" && s.revision != revision)) {
			out = append(out, fmt.Sprintf("%s (%s; applied %q)", k.Name, s.message, s.revision))
		}
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	return strings.Join(out, ", ")
}

// firstReady returns when each Kustomization of ns was first seen Ready.
func (w *watcher) firstReady(ns string) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]time.Time{}
	for k, t := range w.first {
		if k.Namespace == ns {
			out[k.Name] = t
		}
	}
	return out
}

// count returns how many Kustomizations of ns are Ready (at revision, when not empty).
func (w *watcher) count(ns, revision string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return view{w}.readyIn(ns, revision)
}

// until waits until cond holds and returns the time it was first seen to hold. On timeout the
// error carries describe's account of what was missing.
func (w *watcher) until(ctx context.Context, timeout time.Duration, cond func(view) bool, describe func(view) string) (time.Time, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		ok, ch := cond(view{w}), w.changed
		now := time.Now()
		w.mu.Unlock()
		if ok {
			return now, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-timer.C:
			w.mu.Lock()
			why := describe(view{w})
			w.mu.Unlock()
			return time.Time{}, fmt.Errorf("not done after %s: %s", timeout, why)
		}
	}
}
