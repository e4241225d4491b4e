package apply

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"golang.org/x/sync/errgroup"

	"github.com/weirgitops/weir/internal/compat"
)

// DiffEntry is what applying one object would do.
type DiffEntry struct {
	ChangeSetEntry
	// Diff is a unified YAML diff from the live object to the result of the apply (see
	// ObjectDiff): the whole object for Created, the changes for Configured, empty otherwise.
	Diff string
}

// Diff previews ApplyAllStaged without writing: each object is applied as a server-side dry
// run (with the owner labels) and compared with the live object. Entries come in apply order
// and say Created, Configured (with a diff), Unchanged or Skipped. An object whose dry run
// fails (for instance, a custom resource whose CRD is only in objs) is left out and its
// error joined into the returned error. Unlike a real apply, fields that kubectl added and
// the apply would remove by taking them over are not shown.
func (m *Manager) Diff(ctx context.Context, objs []*unstructured.Unstructured) ([]DiffEntry, error) {
	sorted := make([]*unstructured.Unstructured, len(objs))
	copy(sorted, objs)
	sortObjects(sorted, m.custom)

	entries := make([]*DiffEntry, len(sorted))
	errs := make([]error, len(sorted))
	var g errgroup.Group
	g.SetLimit(m.limit)
	for i, obj := range sorted {
		g.Go(func() error {
			entries[i], errs[i] = m.diff(ctx, obj)
			return nil
		})
	}
	_ = g.Wait()
	var out []DiffEntry
	for _, e := range entries {
		if e != nil {
			out = append(out, *e)
		}
	}
	return out, errors.Join(errs...)
}

func (m *Manager) diff(ctx context.Context, obj *unstructured.Unstructured) (*DiffEntry, error) {
	desired, err := m.prepare(obj)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", ObjMetadataFor(obj).Subject(), err)
	}
	meta := ObjMetadataFor(desired)
	e := &DiffEntry{ChangeSetEntry: newEntry(meta, desired.GroupVersionKind().Version, Unchanged)}
	live, err := m.getLive(ctx, desired)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", meta.Subject(), err)
	}
	if Excluded(desired) || Excluded(live) || (live != nil && SSAPolicy(desired) == compat.SSAIfNotPresent) {
		e.Action = Skipped
		return e, nil
	}
	dryRun := desired.DeepCopy()
	if err := m.serverSideApply(ctx, dryRun, true); err != nil {
		if live != nil && IsImmutableError(err) {
			err = newImmutableError(err)
		}
		return nil, fmt.Errorf("diff %s: %w", meta.Subject(), sanitizeSecretError(meta.Kind, err))
	}
	switch {
	case live == nil:
		e.Action = Created
	case Drifted(live, dryRun):
		e.Action = Configured
	default:
		return e, nil
	}
	if e.Diff, err = ObjectDiff(live, dryRun); err != nil {
		return nil, err
	}
	return e, nil
}
