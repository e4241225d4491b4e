package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/faultpoint"
)

// PruneOptions configure a prune or a deletion.
type PruneOptions struct {
	// PropagationPolicy of the deletions; default Background, as Flux.
	PropagationPolicy metav1.DeletionPropagation
}

// Prune deletes stale objects (see Stale): only those whose live object still carries this
// manager's owner labels (an object another Kustomization took over is left alone), and not
// those marked prune disabled, reconcile disabled or ssa Ignore. Objects already gone, or
// whose kind is no longer served, count as skipped. Deletion runs in reverse apply order,
// stage by stage (everything else, then classes, then Namespaces and CRDs), concurrently
// within a stage, and does not wait for the objects to disappear.
//
// The change set lists the deleted and skipped objects; an object whose deletion failed is
// not in it, and the error joins one error per such object.
func (m *Manager) Prune(ctx context.Context, objs []*unstructured.Unstructured, opts PruneOptions) (*ChangeSet, error) {
	if m.owner.Name == "" {
		return nil, errors.New("prune: the manager has no owner")
	}
	if opts.PropagationPolicy == "" {
		opts.PropagationPolicy = metav1.DeletePropagationBackground
	}
	stages := splitStages(objs, m.custom)
	slices.Reverse(stages)
	cs := &ChangeSet{}
	var errs []error
	for _, stage := range stages {
		slices.Reverse(stage)
		entries := make([]*ChangeSetEntry, len(stage))
		stageErrs := m.forEach(len(stage), func(i int) (err error) {
			entries[i], err = m.delete(ctx, stage[i], opts)
			return err
		})
		for _, e := range entries {
			if e != nil {
				cs.Add(*e)
			}
		}
		errs = append(errs, stageErrs...)
	}
	return cs, errors.Join(errs...)
}

// DeleteAll deletes every object of an inventory with the same rules as Prune: it is what
// a Kustomization's deletion does under the MirrorPrune (with prune), Delete and
// WaitForTermination policies. Follow it with WaitForTermination for the latter.
func (m *Manager) DeleteAll(ctx context.Context, inv *kustomizev1.ResourceInventory, opts PruneOptions) (*ChangeSet, error) {
	objs, err := InventoryObjects(inv)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return m.Prune(ctx, objs, opts)
}

func (m *Manager) delete(ctx context.Context, obj *unstructured.Unstructured, opts PruneOptions) (*ChangeSetEntry, error) {
	meta := ObjMetadataFor(obj)
	e := newEntry(meta, obj.GroupVersionKind().Version, Skipped)
	live, err := m.getLive(ctx, obj)
	switch {
	case isGone(err):
		return &e, nil
	case err != nil:
		return nil, fmt.Errorf("prune %s: %w", meta.Subject(), err)
	case live == nil, !m.owner.owns(live), Excluded(live), PruneDisabled(live):
		return &e, nil
	}
	uid := live.GetUID()
	err = m.client.Delete(ctx, live, client.PropagationPolicy(opts.PropagationPolicy), client.Preconditions{UID: &uid})
	switch {
	case apierrors.IsNotFound(err):
		return &e, nil
	case err != nil:
		return nil, fmt.Errorf("prune %s: %w", meta.Subject(), err)
	}
	e.Action = Deleted
	faultpoint.Hit(faultpoint.KustomizationPruning)
	return &e, nil
}
