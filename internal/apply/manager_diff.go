package apply

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DiffEntry is what applying one object would do.
type DiffEntry struct {
	ChangeSetEntry
	// Diff is a unified YAML diff from the live object to the result of the apply (see
	// ObjectDiff): the whole object for Created, the changes for Configured, empty otherwise.
	Diff string
}

// Diff previews ApplyAllStaged with opts without writing: each object is applied as a server-side dry
// run (with the owner labels) and compared with the live object. Entries come in apply order
// and say Created, Configured (with a diff), Unchanged or Skipped; an object that would be
// recreated (immutable field changed, with force) is Created with a diff from the live object
// to the declaration. An object whose dry run fails (for instance, a custom resource whose
// CRD is only in objs) is left out and its error joined into the returned error. Unlike a
// real apply, fields that kubectl added and the apply would remove by taking them over are
// not shown.
func (m *Manager) Diff(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]DiffEntry, error) {
	opts = opts.withDefaults().withSecrets(objs)
	sorted := make([]*unstructured.Unstructured, len(objs))
	copy(sorted, objs)
	sortObjects(sorted, m.custom)

	entries := make([]*DiffEntry, len(sorted))
	errs := m.forEach(len(sorted), func(i int) (err error) {
		entries[i], err = m.diff(ctx, sorted[i], opts)
		return err
	})
	var out []DiffEntry
	for _, e := range entries {
		if e != nil {
			out = append(out, *e)
		}
	}
	return out, errors.Join(errs...)
}

func (m *Manager) diff(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (*DiffEntry, error) {
	p, err := m.plan(ctx, obj, opts)
	if err != nil {
		return nil, err
	}
	e := &DiffEntry{ChangeSetEntry: p.entry}
	switch {
	case p.entry.Action == Skipped:
		return e, nil
	case p.recreate:
		e.Diff, err = ObjectDiff(p.live, p.desired)
	case p.live == nil:
		e.Diff, err = ObjectDiff(nil, p.dryRun)
	case Drifted(p.live, p.dryRun):
		e.Action = Configured
		e.Diff, err = ObjectDiff(p.live, p.dryRun)
	default:
		// A takeover of kubectl's fields alone changes nothing visible.
		e.Action = Unchanged
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}
