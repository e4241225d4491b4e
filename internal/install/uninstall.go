package install

import (
	"context"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// UninstallOptions choose what uninstall removes.
type UninstallOptions struct {
	Namespace     string
	KeepNamespace bool
	DryRun        bool
	// Out receives one line per step.
	Out io.Writer
}

// Uninstall removes weir from the cluster in Flux's order: the controller first, so that it
// acts on nothing more; then weir's finalizers from every Flux object, so that deleting them
// deletes nothing they manage; then the Flux objects with their CRDs; then the namespace.
func Uninstall(ctx context.Context, c client.Client, o UninstallOptions) error {
	opts := DefaultOptions()
	opts.Namespace = o.Namespace
	objs, err := Objects(opts)
	if err != nil {
		return err
	}
	var dryRun []client.DeleteOption
	if o.DryRun {
		dryRun = append(dryRun, client.DryRunAll)
	}
	suffix := ""
	if o.DryRun {
		suffix = " (dry run)"
	}
	// 1. The controller and its wiring.
	for _, obj := range objs {
		switch obj.GetKind() {
		case "CustomResourceDefinition", "Namespace":
			continue
		}
		if err := deleteObject(ctx, c, obj, dryRun...); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "✔ %s%s deleted%s\n", obj.GetKind(), nsName(obj), suffix)
	}
	// 2. Finalizers off every object of a weir kind, then 3. the kinds themselves.
	for _, crd := range objs {
		if crd.GetKind() != "CustomResourceDefinition" {
			continue
		}
		gvk, err := crdKind(crd)
		if err != nil {
			return err
		}
		n, err := removeFinalizers(ctx, c, gvk, o.DryRun)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(o.Out, "✔ finalizers removed from %d %s objects%s\n", n, gvk.Kind, suffix)
		}
	}
	for _, crd := range objs {
		if crd.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if err := deleteObject(ctx, c, crd, dryRun...); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "✔ CustomResourceDefinition/%s deleted%s\n", crd.GetName(), suffix)
	}
	// 4. The namespace.
	if !o.KeepNamespace {
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName(o.Namespace)
		if err := deleteObject(ctx, c, ns, dryRun...); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "✔ Namespace/%s deleted%s\n", o.Namespace, suffix)
	}
	return nil
}

func deleteObject(ctx context.Context, c client.Client, obj *unstructured.Unstructured, opts ...client.DeleteOption) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	u.SetNamespace(obj.GetNamespace())
	u.SetName(obj.GetName())
	opts = append(opts, client.PropagationPolicy("Background"))
	if err := c.Delete(ctx, u, opts...); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s%s: %w", obj.GetKind(), nsName(obj), err)
	}
	return nil
}

// crdKind returns the kind a CRD serves, at its storage version.
func crdKind(crd *unstructured.Unstructured) (schema.GroupVersionKind, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if storage, _ := m["storage"].(bool); storage {
			name, _ := m["name"].(string)
			return schema.GroupVersionKind{Group: group, Version: name, Kind: kind}, nil
		}
	}
	return schema.GroupVersionKind{}, fmt.Errorf("CustomResourceDefinition %s has no storage version", crd.GetName())
}

// removeFinalizers clears the finalizers of every object of kind gvk in every namespace and
// returns how many objects it changed. A kind that is not served is skipped.
func removeFinalizers(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, dryRun bool) (int, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("list %s: %w", gvk.Kind, err)
	}
	n := 0
	for i := range list.Items {
		obj := &list.Items[i]
		if len(obj.GetFinalizers()) == 0 {
			continue
		}
		var opts []client.PatchOption
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		if err := c.Patch(ctx, obj, patch, opts...); err != nil && !apierrors.IsNotFound(err) {
			return n, fmt.Errorf("remove finalizers from %s%s: %w", gvk.Kind, nsName(obj), err)
		}
		n++
	}
	return n, nil
}

func nsName(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return "/" + obj.GetName()
	}
	return "/" + obj.GetNamespace() + "/" + obj.GetName()
}
