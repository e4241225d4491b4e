package helmrelease

import (
	"context"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// scopeWaits makes the kstatus waits of ac's actions (kc is its client) list and watch only
// the objects that carry releaseLabels, when every object waited on carries them. Helm's
// waits start informers on every kind of the release in its namespace: with a hundred
// releases in one namespace, each wait lists, decodes and holds the hundred Deployments of the
// others and every change to any of them (half of the CPU and a third of the heap of a hundred
// releases installed at once). A wait on objects without the labels (CRDs, hooks left out of
// post-rendering, a post-renderer that changed them) is Helm's, unchanged.
func scopeWaits(ac *action.Configuration, kc *kube.Client, getter *restGetter, releaseLabels map[string]string) {
	f, ok := kc.Factory.(*factory)
	if !ok {
		return
	}
	scoped := kube.New(getter)
	scoped.Namespace = kc.Namespace
	scoped.SetLogger(kc.Logger().Handler())
	scoped.Factory = &factory{Factory: f.Factory, verifier: f.verifier, selector: labels.SelectorFromSet(releaseLabels).String()}
	ac.KubeClient = &scopedClient{Client: kc, scoped: scoped, labels: releaseLabels}
}

// scopedClient is Helm's client whose kstatus waiters wait through scoped's informers, which
// select the objects carrying labels, when every object waited on carries them.
type scopedClient struct {
	*kube.Client
	scoped *kube.Client
	labels map[string]string
}

// GetWaiter is GetWaiterWithOptions without options.
func (c *scopedClient) GetWaiter(ws kube.WaitStrategy) (kube.Waiter, error) {
	return c.GetWaiterWithOptions(ws)
}

// GetWaiterWithOptions returns Helm's waiter for ws; the kstatus ones (watcher, and hookOnly,
// which watches hooks) are scoped.
func (c *scopedClient) GetWaiterWithOptions(ws kube.WaitStrategy, opts ...kube.WaitOption) (kube.Waiter, error) {
	w, err := c.Client.GetWaiterWithOptions(ws, opts...)
	if err != nil || (ws != kube.StatusWatcherStrategy && ws != kube.HookOnlyStrategy) {
		return w, err
	}
	sw, err := c.scoped.GetWaiterWithOptions(ws, opts...)
	if err != nil {
		return nil, err
	}
	return &scopedWaiter{all: w, scoped: sw, labels: c.labels}, nil
}

// scopedWaiter waits with scoped when every object carries labels, and with all otherwise.
type scopedWaiter struct {
	all, scoped kube.Waiter
	labels      map[string]string
}

// pick is the waiter for resources.
func (w *scopedWaiter) pick(resources kube.ResourceList) kube.Waiter {
	for _, r := range resources {
		m, err := meta.Accessor(r.Object)
		if err != nil {
			return w.all
		}
		have := m.GetLabels()
		for k, v := range w.labels {
			if have[k] != v {
				return w.all
			}
		}
	}
	return w.scoped
}

// Wait is Helm's Wait, scoped when it can be.
func (w *scopedWaiter) Wait(resources kube.ResourceList, timeout time.Duration) error {
	return w.pick(resources).Wait(resources, timeout)
}

// WaitWithJobs is Helm's WaitWithJobs, scoped when it can be.
func (w *scopedWaiter) WaitWithJobs(resources kube.ResourceList, timeout time.Duration) error {
	return w.pick(resources).WaitWithJobs(resources, timeout)
}

// WaitForDelete is Helm's WaitForDelete, scoped when it can be.
func (w *scopedWaiter) WaitForDelete(resources kube.ResourceList, timeout time.Duration) error {
	return w.pick(resources).WaitForDelete(resources, timeout)
}

// WatchUntilReady is Helm's WatchUntilReady, scoped when it can be.
func (w *scopedWaiter) WatchUntilReady(resources kube.ResourceList, timeout time.Duration) error {
	return w.pick(resources).WatchUntilReady(resources, timeout)
}

// selectingClient is a dynamic client whose lists and watches without a label selector, the
// informers' of a kstatus wait, select the objects matching selector. Lists with a selector
// are left alone: kstatus reads the objects an object generates (a Deployment's ReplicaSets)
// with the owner's own selector.
type selectingClient struct {
	dynamic.Interface
	selector string
}

// Resource is the client's, selecting.
func (c selectingClient) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return selectingResource{NamespaceableResourceInterface: c.Interface.Resource(gvr), selector: c.selector}
}

type selectingResource struct {
	dynamic.NamespaceableResourceInterface
	selector string
}

func (r selectingResource) Namespace(ns string) dynamic.ResourceInterface {
	return selectingNamespaced{ResourceInterface: r.NamespaceableResourceInterface.Namespace(ns), selector: r.selector}
}

func (r selectingResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return r.NamespaceableResourceInterface.List(ctx, selecting(opts, r.selector))
}

func (r selectingResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return r.NamespaceableResourceInterface.Watch(ctx, selecting(opts, r.selector))
}

type selectingNamespaced struct {
	dynamic.ResourceInterface
	selector string
}

func (r selectingNamespaced) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return r.ResourceInterface.List(ctx, selecting(opts, r.selector))
}

func (r selectingNamespaced) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return r.ResourceInterface.Watch(ctx, selecting(opts, r.selector))
}

// selecting is opts with selector as its label selector when it has none.
func selecting(opts metav1.ListOptions, selector string) metav1.ListOptions {
	if opts.LabelSelector == "" {
		opts.LabelSelector = selector
	}
	return opts
}
