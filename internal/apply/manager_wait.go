package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// WaitOptions bound a wait.
type WaitOptions struct {
	// Timeout bounds the wait; default DefaultWaitTimeout. The context's deadline, when
	// earlier, wins.
	Timeout time.Duration
	// Interval is the polling interval; default DefaultWaitInterval.
	Interval time.Duration
}

// waitReady waits until every object is ready enough for the next stage: CRDs established
// and their kinds served and known to the client's RESTMapper, Namespaces active, anything
// else present.
func (m *Manager) waitReady(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	waitCtx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	pending := objs
	var reasons []string
	// The reads get a deadline of their own, not waitCtx's: a read cut short by the wait's
	// deadline would hide which objects were not ready.
	err := wait.PollUntilContextCancel(waitCtx, opts.WaitInterval, true, func(context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
		defer cancel()
		var still []*unstructured.Unstructured
		var why []string
		for _, o := range pending {
			reason, err := m.notReady(ctx, o)
			if err != nil {
				return false, err
			}
			if reason != "" {
				still = append(still, o)
				why = append(why, ObjMetadataFor(o).Subject()+" "+reason)
			}
		}
		pending, reasons = still, why
		return len(pending) == 0, nil
	})
	if err == nil {
		return nil
	}
	if waitCtx.Err() != nil && ctx.Err() == nil && len(reasons) > 0 {
		return fmt.Errorf("%s after %s", strings.Join(reasons, ", "), opts.WaitTimeout)
	}
	return err
}

// notReady returns why obj is not ready yet, or "" when it is.
func (m *Manager) notReady(ctx context.Context, obj *unstructured.Unstructured) (string, error) {
	live, err := m.getLive(ctx, obj)
	if err != nil {
		return "", err
	}
	if live == nil {
		return "not found", nil
	}
	gvk := live.GroupVersionKind()
	switch {
	case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
		return m.crdNotReady(live)
	case gvk.Group == "" && gvk.Kind == "Namespace":
		if phase, _, _ := unstructured.NestedString(live.Object, "status", "phase"); phase != "Active" {
			return "not active", nil
		}
	}
	return "", nil
}

// crdNotReady checks that the CRD is established and that every served version of its kind
// maps: controller-runtime's lazy RESTMapper reloads a group when asked for a kind it does
// not know, so this also teaches the client the new kind.
func (m *Manager) crdNotReady(crd *unstructured.Unstructured) (string, error) {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Established" && cm["status"] == "True" {
			established = true
		}
	}
	if !established {
		return "not established", nil
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		if served, _ := vm["served"].(bool); !served || name == "" {
			continue
		}
		_, err := m.client.RESTMapper().RESTMapping(schema.GroupKind{Group: group, Kind: kind}, name)
		if meta.IsNoMatchError(err) {
			return "not served yet", nil
		}
		if err != nil {
			return "", fmt.Errorf("map %s %s/%s: %w", kind, group, name, err)
		}
	}
	return "", nil
}

// WaitForTermination waits until every object is gone from the cluster (finalizers done),
// polling until opts.Timeout or the context's deadline. It is the Kustomization's
// WaitForTermination deletion policy.
func (m *Manager) WaitForTermination(ctx context.Context, objs []*unstructured.Unstructured, opts WaitOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWaitTimeout
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultWaitInterval
	}
	waitCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	pending := objs
	err := wait.PollUntilContextCancel(waitCtx, opts.Interval, true, func(context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		var still []*unstructured.Unstructured
		for _, o := range pending {
			live, err := m.getLive(ctx, o)
			if err != nil && !meta.IsNoMatchError(err) {
				return false, err
			}
			if live != nil {
				still = append(still, o)
			}
		}
		pending = still
		return len(pending) == 0, nil
	})
	if err != nil {
		names := make([]string, len(pending))
		for i, o := range pending {
			names[i] = ObjMetadataFor(o).Subject()
		}
		if waitCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("%s not terminated after %s", strings.Join(names, ", "), opts.Timeout)
		}
		return fmt.Errorf("wait for termination of %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// isGone reports whether err says the object, or its whole kind, no longer exists.
func isGone(err error) bool {
	return apierrors.IsNotFound(err) || meta.IsNoMatchError(err)
}
