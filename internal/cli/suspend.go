package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
)

// suspendKinds are the kinds suspend and resume act on, as flux's.
var suspendKinds = verbKinds{
	sources: []*fluxKind{gitKind, ociKind, helmRepoKind, chartKind, bucketKind},
	images:  imageKinds,
	top:     []*fluxKind{ksKind, hrKind, receiverKind, alertKind, providerKind},
}

func newSuspendCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "suspend", Short: "Suspend the reconciliation of resources"}
	addNouns(cmd, suspendKinds, func(k *fluxKind) *cobra.Command { return suspendKindCommand(g, k, true) })
	return cmd
}

func newResumeCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "resume", Short: "Resume the reconciliation of suspended resources"}
	addNouns(cmd, suspendKinds, func(k *fluxKind) *cobra.Command { return suspendKindCommand(g, k, false) })
	return cmd
}

func suspendKindCommand(g *globals, k *fluxKind, suspend bool) *cobra.Command {
	var all, noWait bool
	verb, done := "resuming", "resumed"
	if suspend {
		verb, done = "suspending", "suspended"
	}
	cmd := &cobra.Command{
		Use:   k.Use + " [name]",
		Short: fmt.Sprintf("%s the reconciliation of %s objects", map[bool]string{true: "Suspend", false: "Resume"}[suspend], k.Kind),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return fmt.Errorf("give a %s name or --all", k.Kind)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			var objs []*unstructured.Unstructured
			if all {
				if objs, err = listKind(ctx, c, k, g.namespace, false, "", ""); err != nil {
					return err
				}
				if len(objs) == 0 {
					fmt.Fprintf(g.errOut, "✗ no %s objects found in %s namespace\n", k.Kind, g.namespace)
					return nil
				}
			} else {
				for _, name := range args {
					o, err := getObject(ctx, c, k, g.namespace, name)
					if err != nil {
						return err
					}
					objs = append(objs, o)
				}
			}
			noun := lowerKind(k)
			requested := map[string]string{}
			for _, o := range objs {
				fmt.Fprintf(g.out, "► %s %s %s in %s namespace\n", verb, noun, o.GetName(), o.GetNamespace())
				spec := map[string]any{"suspend": suspend}
				if !suspend {
					spec["suspend"] = nil // resume removes the field, as flux leaves it unset
				}
				patch := map[string]any{"spec": spec}
				if !suspend {
					now := time.Now().Format(time.RFC3339Nano)
					requested[o.GetName()] = now
					patch["metadata"] = map[string]any{"annotations": map[string]string{compat.ReconcileRequestAnnotation: now}}
				}
				data, err := json.Marshal(patch)
				if err != nil {
					return err
				}
				if err := mergePatch(ctx, c, o, data); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "✔ %s %s\n", noun, done)
			}
			if suspend || noWait || k.NoStatus {
				return nil
			}
			return waitResumed(ctx, g, c, k, objs, requested)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, fmt.Sprintf("%s all %s objects in the namespace", map[bool]string{true: "suspend", false: "resume"}[suspend], k.Kind))
	if !suspend && !k.NoStatus {
		var wait bool
		cmd.Flags().BoolVar(&wait, "wait", true, "wait for the resumed objects to become ready")
		cmd.PreRun = func(*cobra.Command, []string) { noWait = !wait }
	}
	return cmd
}

func waitResumed(ctx context.Context, g *globals, c client.Client, k *fluxKind, objs []*unstructured.Unstructured, requested map[string]string) error {
	for _, o := range objs {
		fmt.Fprintf(g.out, "◎ waiting for %s reconciliation\n", k.Kind)
		u, err := waitHandled(ctx, c, k, o.GetNamespace(), o.GetName(), requested[o.GetName()])
		if err != nil {
			return err
		}
		fmt.Fprintf(g.out, "✔ %s reconciliation completed\n", k.Kind)
		if msg := k.successMessage(u); msg != "" {
			fmt.Fprintf(g.out, "✔ %s\n", msg)
		}
	}
	return nil
}
