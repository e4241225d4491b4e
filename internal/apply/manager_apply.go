package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"golang.org/x/sync/errgroup"

	"github.com/weirgitops/weir/internal/compat"
)

// ApplyOptions configure one apply.
type ApplyOptions struct {
	// Force recreates objects whose apply fails on an immutable field (the Kustomization's
	// spec.force). Objects annotated `kustomize.toolkit.fluxcd.io/force: enabled` are
	// recreated regardless.
	Force bool
	// WaitTimeout bounds the wait for a stage's objects to be ready, and for a recreated
	// object's deletion; default DefaultWaitTimeout.
	WaitTimeout time.Duration
	// WaitInterval is the polling interval of those waits; default DefaultWaitInterval.
	WaitInterval time.Duration
}

func (o ApplyOptions) withDefaults() ApplyOptions {
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.WaitInterval <= 0 {
		o.WaitInterval = DefaultWaitInterval
	}
	return o
}

// ApplyAllStaged applies objs in Flux's stages: cluster definitions (CRDs, Namespaces,
// ClusterRoles), then classes, then Options.CustomStageKinds, then everything else. After
// the first two stages it waits until their objects are ready (CRDs established and served,
// Namespaces active), so that custom resources and namespaced objects in later stages can be
// applied in the same call.
//
// The change set lists every object in apply order. On error, it lists what was done before
// the failing stage stopped the apply; the error joins one error per failed object.
func (m *Manager) ApplyAllStaged(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	opts = opts.withDefaults()
	cs := &ChangeSet{}
	for _, stage := range splitStages(objs, m.custom) {
		s, err := m.applyAll(ctx, stage, opts)
		cs.Append(s)
		if err != nil {
			return cs, err
		}
		st := stageOf(stage[0].GroupVersionKind().GroupKind(), m.custom)
		if st != StageClusterDefinitions && st != StageClasses {
			continue
		}
		var wait []*unstructured.Unstructured
		for _, e := range s.Entries {
			if e.Action != Skipped {
				wait = append(wait, e.ObjMetadata.Object(e.Version))
			}
		}
		if err := m.waitReady(ctx, wait, opts); err != nil {
			return cs, fmt.Errorf("wait for %s: %w", st, err)
		}
	}
	return cs, nil
}

// ApplyAll applies objs in one stage, without waiting: use it when objs cannot depend on
// each other. The change set lists them in apply order.
func (m *Manager) ApplyAll(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	return m.applyAll(ctx, objs, opts.withDefaults())
}

func (m *Manager) applyAll(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	sorted := make([]*unstructured.Unstructured, len(objs))
	copy(sorted, objs)
	sortObjects(sorted, m.custom)

	entries := make([]*ChangeSetEntry, len(sorted))
	errs := make([]error, len(sorted))
	var g errgroup.Group
	g.SetLimit(m.limit)
	for i, obj := range sorted {
		g.Go(func() error {
			e, err := m.apply(ctx, obj, opts)
			entries[i], errs[i] = e, err
			return nil
		})
	}
	_ = g.Wait()

	cs := &ChangeSet{}
	for _, e := range entries {
		if e != nil {
			cs.Add(*e)
		}
	}
	return cs, errors.Join(errs...)
}

// Apply applies one object: see ApplyAllStaged for what happens, and the package
// documentation for the rules.
func (m *Manager) Apply(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (ChangeSetEntry, error) {
	e, err := m.apply(ctx, obj, opts.withDefaults())
	if e == nil {
		return ChangeSetEntry{}, err
	}
	return *e, err
}

func (m *Manager) apply(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (*ChangeSetEntry, error) {
	desired, err := m.prepare(obj)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", ObjMetadataFor(obj).Subject(), err)
	}
	meta := ObjMetadataFor(desired)
	subject, version := meta.Subject(), desired.GroupVersionKind().Version
	entry := func(a Action) (*ChangeSetEntry, error) {
		e := newEntry(meta, version, a)
		return &e, nil
	}

	live, err := m.getLive(ctx, desired)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", subject, err)
	}
	if Excluded(desired) || Excluded(live) {
		return entry(Skipped)
	}
	if live != nil && SSAPolicy(desired) == compat.SSAIfNotPresent {
		return entry(Skipped)
	}

	dryRun := desired.DeepCopy()
	if err := m.serverSideApply(ctx, dryRun, true); err != nil {
		if live == nil || !IsImmutableError(err) {
			return nil, fmt.Errorf("apply %s: %w", subject, sanitizeSecretError(meta.Kind, err))
		}
		if !opts.Force && !ForceEnabled(desired) && !ForceEnabled(live) {
			return nil, fmt.Errorf("apply %s: %w", subject, newImmutableError(err))
		}
		if err := m.recreate(ctx, desired, live, opts); err != nil {
			return nil, fmt.Errorf("recreate %s: %w", subject, err)
		}
		return entry(Created)
	}

	patched, err := m.cleanup(ctx, desired, live)
	if err != nil {
		return nil, fmt.Errorf("take over fields of %s: %w", subject, err)
	}
	if live != nil && !patched && !Drifted(live, dryRun) {
		return entry(Unchanged)
	}
	if err := m.serverSideApply(ctx, desired.DeepCopy(), false); err != nil {
		return nil, fmt.Errorf("apply %s: %w", subject, sanitizeSecretError(meta.Kind, err))
	}
	if live == nil {
		return entry(Created)
	}
	return entry(Configured)
}

// getLive returns the live object, or nil when there is none.
func (m *Manager) getLive(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := m.client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return live, nil
}

// serverSideApply applies obj with the manager's field manager, taking ownership of
// conflicting fields, and stores the server's answer in obj.
func (m *Manager) serverSideApply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	opts := []client.ApplyOption{client.FieldOwner(m.field), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return m.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...)
}

// cleanup removes kubectl's metadata from live and takes over the fields of kubectl and the
// other takeover managers, so that the next apply removes what they added. live is updated.
func (m *Manager) cleanup(ctx context.Context, desired, live *unstructured.Unstructured) (bool, error) {
	patch, err := cleanupPatch(desired, live, m.field, m.takeover)
	if err != nil || patch == nil {
		return false, err
	}
	if err := m.client.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(m.field)); err != nil {
		return false, err
	}
	return true, nil
}

// recreate deletes live, waits until it is gone and creates desired in its place.
func (m *Manager) recreate(ctx context.Context, desired, live *unstructured.Unstructured, opts ApplyOptions) error {
	uid := live.GetUID()
	err := m.client.Delete(ctx, live,
		client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, opts.WaitInterval, opts.WaitTimeout, true, func(ctx context.Context) (bool, error) {
		cur, err := m.getLive(ctx, desired)
		if err != nil {
			return false, err
		}
		return cur == nil || cur.GetUID() != uid, nil
	})
	if err != nil {
		return fmt.Errorf("wait for deletion: %w", err)
	}
	return m.serverSideApply(ctx, desired.DeepCopy(), false)
}

// Drifted reports whether the dry-run result of an apply differs from the live object,
// ignoring what the server maintains by itself (managedFields, resourceVersion, generation,
// status). An object that has not drifted is not applied.
func Drifted(live, dryRun *unstructured.Unstructured) bool {
	return !equality.Semantic.DeepEqual(forCompare(live).Object, forCompare(dryRun).Object)
}

func forCompare(obj *unstructured.Unstructured) *unstructured.Unstructured {
	u := obj.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(u.Object, "status")
	return u
}
