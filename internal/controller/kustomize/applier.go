package kustomize

import (
	"context"
	"fmt"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/faultpoint"
	"github.com/weirgitops/weir/internal/reconcile"
)

func (r *Reconciler) applier(c client.Client, ks *kustomizev1.Kustomization) *apply.Manager {
	return apply.NewManager(c, apply.Options{
		FieldManager:     compat.KustomizeFieldManager,
		Owner:            apply.Owner{Name: ks.Name, Namespace: ks.Namespace},
		Concurrency:      r.ConcurrentSSA,
		OverrideManagers: r.OverrideManagers,
		CustomStageKinds: r.CustomStageKinds,
	})
}

// applyAndPrune applies the built objects in stages (no error showing a sensitive value), records the new inventory, and, with
// spec.prune, deletes what left it. It returns the change lines for the event and the objects
// applied.
func (r *Reconciler) applyAndPrune(ctx context.Context, c client.Client, ks *kustomizev1.Kustomization, objs []*unstructured.Unstructured, sensitive []string) ([]string, []*unstructured.Unstructured, error) {
	m := r.applier(c, ks)
	// spec.ignore (Flux 2.9): ignored fields of existing objects keep the cluster's values, so
	// that neither drift detection nor the apply touches them.
	if err := apply.AdoptAllIgnored(ctx, c, ignoreRules(ks), objs); err != nil {
		return nil, nil, reconcile.Failed(compat.ReconciliationFailedReason, fmt.Errorf("spec.ignore: %w", err))
	}
	cs, err := m.ApplyAllStaged(ctx, objs, apply.ApplyOptions{Force: ks.Spec.Force, Sensitive: sensitive, Claimed: r.claimedElsewhere(ks)})
	changes := changeLines(cs)
	if err != nil {
		if cs != nil && ks.Status.Inventory != nil {
			// Keep track of what was applied before the failure, so that it is not orphaned.
			apply.MergeInventory(ks.Status.Inventory, objs)
		}
		return changes, nil, reconcile.Failed(compat.ReconciliationFailedReason, err)
	}
	faultpoint.Hit(faultpoint.KustomizationApplied)
	old := ks.Status.Inventory
	ks.Status.Inventory = apply.NewInventory(cs)
	if ks.Spec.Prune && old != nil {
		stale, err := apply.Stale(old, ks.Status.Inventory)
		if err != nil {
			return changes, nil, reconcile.Failed(compat.PruneFailedReason, fmt.Errorf("compute stale objects: %w", err))
		}
		if len(stale) > 0 {
			pcs, err := m.Prune(ctx, stale, apply.PruneOptions{})
			changes = append(changes, changeLines(pcs)...)
			if err != nil {
				// Flux 2.9: what could not be deleted stays in the inventory, so that the next
				// reconcile finds it stale again and retries.
				apply.MergeInventory(ks.Status.Inventory, notPruned(stale, pcs))
				return changes, nil, reconcile.Failed(compat.PruneFailedReason, fmt.Errorf("prune failed: %w", err))
			}
		}
	}
	return changes, objs, nil
}

// notPruned returns the stale objects the prune's change set does not list: those whose
// deletion failed.
func notPruned(stale []*unstructured.Unstructured, cs *apply.ChangeSet) []*unstructured.Unstructured {
	done := map[string]bool{}
	if cs != nil {
		for _, e := range cs.Entries {
			done[e.ObjMetadata.ID()] = true
		}
	}
	var out []*unstructured.Unstructured
	for _, o := range stale {
		if !done[apply.ObjMetadataFor(o).ID()] {
			out = append(out, o)
		}
	}
	return out
}

func changeLines(cs *apply.ChangeSet) []string {
	if cs == nil || !cs.HasChanged() {
		return nil
	}
	return strings.Split(strings.TrimSpace(cs.Changes().String()), "\n")
}

// Finalize applies spec.deletionPolicy to what the Kustomization applied; the skeleton then
// lets the object go. A suspended Kustomization deletes nothing, as in Flux, and one whose
// client cannot be built (its ServiceAccount or remote cluster is gone) orphans its objects.
func (r *Reconciler) Finalize(ctx context.Context, ks *kustomizev1.Kustomization) error {
	r.dropWait(types.NamespacedName{Namespace: ks.Namespace, Name: ks.Name})
	policy := ks.GetDeletionPolicy()
	prune := policy == kustomizev1.DeletionPolicyDelete || policy == kustomizev1.DeletionPolicyWaitForTermination ||
		(policy == kustomizev1.DeletionPolicyMirrorPrune && ks.Spec.Prune)
	if !prune || ks.Spec.Suspend || ks.Status.Inventory == nil || len(ks.Status.Inventory.Entries) == 0 {
		return nil
	}
	c, err := r.clientFor(ctx, ks)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "cannot build a client to garbage-collect; the objects are orphaned")
		return nil
	}
	objs, err := apply.InventoryObjects(ks.Status.Inventory)
	if err != nil {
		return reconcile.Failed(compat.PruneFailedReason, err)
	}
	m := r.applier(c, ks)
	cs, err := m.Prune(ctx, objs, apply.PruneOptions{})
	if err != nil {
		return reconcile.Failed(compat.PruneFailedReason, fmt.Errorf("garbage collection failed: %w", err))
	}
	if policy == kustomizev1.DeletionPolicyWaitForTermination {
		// As Flux: a wait that times out is reported, and the Kustomization goes anyway.
		if err := m.WaitForTermination(ctx, objs, apply.WaitOptions{Timeout: ks.GetTimeout()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "failed to wait for objects termination")
			reason := compat.PruneFailedReason
			if c := apimeta.FindStatusCondition(ks.Status.Conditions, compat.ReadyCondition); c != nil && c.Reason != "" {
				reason = c.Reason
			}
			r.Recorder.Warning(ks, reason, nil, "WaitForTermination: %s", err)
		}
	}
	if lines := changeLines(cs); len(lines) > 0 {
		r.Recorder.Normal(ks, "Progressing", nil, "%s", joinLines(lines))
	}
	return nil
}

// ignoreRules are spec.ignore as the apply engine takes them.
func ignoreRules(ks *kustomizev1.Kustomization) []apply.IgnoreRule {
	out := make([]apply.IgnoreRule, 0, len(ks.Spec.Ignore))
	for _, r := range ks.Spec.Ignore {
		out = append(out, apply.IgnoreRule{Paths: r.Paths, Target: r.Target})
	}
	return out
}

// claimedElsewhere refuses to take back an object that this Kustomization applied before and
// that another one, which still lists it in its inventory, took over since: both declare it,
// and applying it from each in turn would flip its owner (and whatever the two disagree on)
// back and forth forever. The Kustomization that took the object over keeps it; this one
// reports the conflict until one of them stops declaring it. An object taken over by a
// Kustomization that no longer lists it, is being deleted or is gone, is taken back as usual,
// and so is one this Kustomization never applied (moving a manifest from one Kustomization to
// another hands the object over without a gap).
func (r *Reconciler) claimedElsewhere(ks *kustomizev1.Kustomization) func(context.Context, *unstructured.Unstructured) error {
	mine := map[string]bool{}
	if ks.Status.Inventory != nil {
		for _, e := range ks.Status.Inventory.Entries {
			mine[e.ID] = true
		}
	}
	return func(ctx context.Context, live *unstructured.Unstructured) error {
		labels := live.GetLabels()
		name, ns := labels[compat.KustomizeNameLabel], labels[compat.KustomizeNamespaceLabel]
		id := apply.ObjMetadataFor(live).ID()
		if name == "" || (name == ks.Name && ns == ks.Namespace) || !mine[id] {
			return nil
		}
		other := &kustomizev1.Kustomization{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, other); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !other.DeletionTimestamp.IsZero() || other.Status.Inventory == nil {
			return nil
		}
		for _, e := range other.Status.Inventory.Entries {
			if e.ID == id {
				return fmt.Errorf("Kustomization '%s/%s' applies it too and took it over: remove it from one of the two", ns, name) //nolint:staticcheck // names a kind
			}
		}
		return nil
	}
}
