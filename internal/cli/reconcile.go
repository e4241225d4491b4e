package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
)

// pollInterval is how often the CLI reads an object it waits on.
const pollInterval = 500 * time.Millisecond

func newReconcileCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Reconcile sources and resources",
		Long:  "The reconcile sub-commands trigger a reconciliation of sources and resources.",
	}
	vk := verbKinds{
		sources: []*fluxKind{gitKind, ociKind, helmRepoKind, chartKind, bucketKind},
		images:  imageKinds,
		top:     []*fluxKind{ksKind, hrKind, receiverKind},
	}
	addNouns(cmd, vk, func(k *fluxKind) *cobra.Command { return reconcileKindCommand(g, k) })
	return cmd
}

func reconcileKindCommand(g *globals, k *fluxKind) *cobra.Command {
	var withSource, force, reset bool
	cmd := &cobra.Command{
		Use:   k.Use + " [name]",
		Short: fmt.Sprintf("Reconcile %s objects", k.Kind),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			obj, err := getObject(ctx, c, k, g.namespace, args[0])
			if err != nil {
				return err
			}
			if isStatic(k, obj) {
				fmt.Fprintln(g.out, "✔ reconciliation not supported by the object")
				return nil
			}
			if isSuspended(obj) {
				return fmt.Errorf("%s %s/%s is suspended: resume it before reconciling", k.Kind, g.namespace, args[0])
			}
			if withSource {
				if err := reconcileSourceOf(ctx, g, c, k, obj); err != nil {
					return err
				}
			}
			extra := map[string]string{}
			if force {
				extra[compat.ForceRequestAnnotation] = ""
			}
			if reset {
				extra[compat.ResetRequestAnnotation] = ""
			}
			return reconcileObject(ctx, g, c, k, obj, extra)
		},
	}
	switch k {
	case ksKind:
		cmd.Flags().BoolVar(&withSource, "with-source", false, "reconcile the Kustomization's source first")
	case chartKind:
		cmd.Flags().BoolVar(&withSource, "with-source", false, "reconcile the HelmChart's source first")
	case hrKind:
		cmd.Flags().BoolVar(&withSource, "with-source", false, "reconcile the HelmRelease's source first")
		cmd.Flags().BoolVar(&force, "force", false, "force a one-off install or upgrade of the HelmRelease resource")
		cmd.Flags().BoolVar(&reset, "reset", false, "reset the retry count for the HelmRelease resource")
	}
	return cmd
}

// reconcileSourceOf reconciles the source a Kustomization or HelmRelease refers to.
func reconcileSourceOf(ctx context.Context, g *globals, c client.Client, k *fluxKind, obj *unstructured.Unstructured) error {
	var ref map[string]any
	switch k {
	case ksKind:
		ref, _, _ = unstructured.NestedMap(obj.Object, "spec", "sourceRef")
	case hrKind:
		if r, ok, _ := unstructured.NestedMap(obj.Object, "spec", "chartRef"); ok {
			ref = r
			break
		}
		ref, _, _ = unstructured.NestedMap(obj.Object, "spec", "chart", "spec", "sourceRef")
		// As flux: the HelmChart made for the release is the source to reconcile.
		if chart := helmChartOf(ctx, c, obj, ref); chart != nil {
			if isSuspended(chart) {
				return fmt.Errorf("HelmChart %s/%s is suspended: resume it before reconciling", chart.GetNamespace(), chart.GetName())
			}
			return reconcileObject(ctx, g, c, chartKind, chart, nil)
		}
	case chartKind:
		ref, _, _ = unstructured.NestedMap(obj.Object, "spec", "sourceRef")
	}
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	ns, _ := ref["namespace"].(string)
	if ns == "" {
		ns = obj.GetNamespace()
	}
	sk, ok := kindByName(kind)
	if !ok || name == "" {
		return fmt.Errorf("%s %s/%s: unsupported source kind %q", k.Kind, obj.GetNamespace(), obj.GetName(), kind)
	}
	src, err := getObject(ctx, c, sk, ns, name)
	if err != nil {
		return err
	}
	if isSuspended(src) {
		return fmt.Errorf("%s %s/%s is suspended: resume it before reconciling", sk.Kind, ns, name)
	}
	if isStatic(sk, src) {
		return nil
	}
	return reconcileObject(ctx, g, c, sk, src, nil)
}

// reconcileObject sets the requestedAt annotation (and the extra ones, with the same value),
// then waits until the controller handled the request and prints the revision or the failure.
func reconcileObject(ctx context.Context, g *globals, c client.Client, k *fluxKind, obj *unstructured.Unstructured, extra map[string]string) error {
	ns, name := obj.GetNamespace(), obj.GetName()
	fmt.Fprintf(g.out, "► annotating %s %s in %s namespace\n", k.Kind, name, ns)
	requested, err := requestReconcile(ctx, c, obj, extra)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "✔ %s annotated\n", k.Kind)
	fmt.Fprintf(g.out, "◎ waiting for %s reconciliation\n", k.Kind)
	done, err := waitHandled(ctx, c, k, ns, name, requested)
	if err != nil {
		return err
	}
	if msg := k.successMessage(done); msg != "" {
		fmt.Fprintf(g.out, "✔ %s\n", msg)
	}
	return nil
}

// requestReconcile merge-patches reconcile.fluxcd.io/requestedAt (and extra annotations) to now.
func requestReconcile(ctx context.Context, c client.Client, obj *unstructured.Unstructured, extra map[string]string) (string, error) {
	now := time.Now().Format(time.RFC3339Nano)
	ann := map[string]string{compat.ReconcileRequestAnnotation: now}
	for k := range extra {
		ann[k] = now
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return "", err
	}
	return now, mergePatch(ctx, c, obj, patch)
}

// waitHandled waits until status.lastHandledReconcileAt equals requested (any value when
// requested is empty) and Ready is True, returning the object; Ready=False is an error with
// the condition's message.
func waitHandled(ctx context.Context, c client.Client, k *fluxKind, ns, name, requested string) (*unstructured.Unstructured, error) {
	var last *unstructured.Unstructured
	var failure error
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		u, err := getObject(ctx, c, k, ns, name)
		if err != nil {
			return false, err
		}
		last = u
		if requested != "" {
			handled, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
			if handled != requested {
				return false, nil
			}
		}
		if og, ok, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); ok && og < u.GetGeneration() {
			return false, nil
		}
		status, reason, msg, ok := condition(u, compat.ReadyCondition)
		switch {
		case !ok || status == "Unknown":
			return false, nil
		case status == "False":
			if msg == "" {
				msg = reason
			}
			failure = fmt.Errorf("%s %s/%s reconciliation failed: %s", k.Kind, ns, name, msg)
			return true, nil
		}
		return true, nil
	})
	if failure != nil {
		return nil, failure
	}
	if err != nil {
		msg := "not ready"
		if last != nil {
			if _, _, m, ok := condition(last, compat.ReadyCondition); ok && m != "" {
				msg = m
			}
		}
		return nil, fmt.Errorf("%s %s/%s: timed out waiting for reconciliation: %s", k.Kind, ns, name, msg)
	}
	return last, nil
}

// isStatic reports objects that have no reconciliation to wait on: OCI HelmRepositories.
func isStatic(k *fluxKind, u *unstructured.Unstructured) bool {
	if k != helmRepoKind {
		return false
	}
	t, _, _ := unstructured.NestedString(u.Object, "spec", "type")
	return t == "oci"
}
