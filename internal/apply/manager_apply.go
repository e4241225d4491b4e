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
	"github.com/weirgitops/weir/internal/faultpoint"
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
	// Sensitive are values no error may show (values weir decrypted or substituted from
	// Secrets); the values of the Secrets being applied are added to them.
	Sensitive []string
	// Claimed, when set, is asked about every object that exists already; an error refuses to
	// apply it (a Kustomization does not take back an object another one took over).
	Claimed func(ctx context.Context, live *unstructured.Unstructured) error
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
	opts = opts.withDefaults().withSecrets(objs)
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

// ApplyAll applies objs as one stage, without waiting: use it when objs cannot depend on
// each other. It works in two phases, as Flux does:
//
//  1. Plan, concurrently and without writing: read each live object, dry-run the apply and
//     decide its action. If any object fails here (invalid, unknown kind, immutable field
//     without force…), nothing is written and the error joins one error per such object.
//  2. Write, in apply order: objects of the same kind rank (all Deployments, all
//     ConfigMaps…) concurrently, ranks one after the other, so that Services come before
//     Deployments and webhook configurations after everything they could intercept. A
//     failing rank stops the stage.
//
// The change set lists the objects in apply order; after an error in phase 2 it lists those
// done so far.
func (m *Manager) ApplyAll(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	return m.applyAll(ctx, objs, opts.withDefaults().withSecrets(objs))
}

func (m *Manager) applyAll(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	sorted := make([]*unstructured.Unstructured, len(objs))
	copy(sorted, objs)
	sortObjects(sorted, m.custom)

	plans := make([]*plan, len(sorted))
	errs := m.forEach(len(sorted), func(i int) (err error) { plans[i], err = m.plan(ctx, sorted[i], opts); return err })
	if err := errors.Join(errs...); err != nil {
		return &ChangeSet{}, err
	}

	cs := &ChangeSet{}
	for start := 0; start < len(plans); {
		end := start + 1
		rank := kindRank(plans[start].entry.ObjMetadata.Kind)
		for end < len(plans) && kindRank(plans[end].entry.ObjMetadata.Kind) == rank {
			end++
		}
		group := plans[start:end]
		groupErrs := m.forEach(len(group), func(i int) error {
			faultpoint.Hit(faultpoint.ApplyWorker)
			return m.execute(ctx, group[i], opts)
		})
		for i, p := range group {
			if groupErrs[i] == nil {
				cs.Add(p.entry)
			}
		}
		if err := errors.Join(groupErrs...); err != nil {
			return cs, err
		}
		start = end
	}
	return cs, nil
}

// forEach runs fn(0…n-1) with at most the manager's concurrency at once and returns their
// errors by index. A panic in fn is recovered and becomes fn's error: it happens in a worker
// goroutine, where nothing else would stop it from ending the process.
func (m *Manager) forEach(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var g errgroup.Group
	g.SetLimit(m.limit)
	for i := range n {
		g.Go(func() error {
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("%w: %v", ErrPanic, r)
				}
			}()
			errs[i] = fn(i)
			return nil
		})
	}
	_ = g.Wait()
	return errs
}

// Apply applies one object (see ApplyAll) and returns what it did.
func (m *Manager) Apply(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (ChangeSetEntry, error) {
	opts = opts.withDefaults().withSecrets([]*unstructured.Unstructured{obj})
	p, err := m.plan(ctx, obj, opts)
	if err != nil {
		return ChangeSetEntry{}, err
	}
	if err := m.execute(ctx, p, opts); err != nil {
		return ChangeSetEntry{}, err
	}
	return p.entry, nil
}

// plan is what applying one object will do, decided without writing.
type plan struct {
	entry ChangeSetEntry
	// desired is the object to apply: the declaration with owner labels.
	desired *unstructured.Unstructured
	// live is the object in the cluster, nil when there is none.
	live *unstructured.Unstructured
	// dryRun is the server's answer to the dry-run apply; nil when it failed.
	dryRun *unstructured.Unstructured
	// cleanup is the JSON patch taking kubectl's fields over, nil when there is none.
	cleanup []byte
	// recreate: the apply changes immutable fields and force allows deleting live first.
	recreate bool
}

// plan decides what applying obj does: Skipped for excluded and IfNotPresent objects,
// Created for new ones (or ones to recreate), Configured for drifted ones or ones whose
// fields must be taken over from kubectl, Unchanged otherwise.
func (m *Manager) plan(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (*plan, error) {
	p, err := m.planObject(ctx, obj, opts)
	return p, opts.objectError(obj, err)
}

func (m *Manager) planObject(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (*plan, error) {
	desired, err := m.prepare(obj)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", ObjMetadataFor(obj).Subject(), err)
	}
	meta := ObjMetadataFor(desired)
	p := &plan{entry: newEntry(meta, desired.GroupVersionKind().Version, Unchanged), desired: desired}
	if p.live, err = m.getLive(ctx, desired); err != nil {
		return nil, fmt.Errorf("apply %s: %w", meta.Subject(), err)
	}
	if p.live != nil && opts.Claimed != nil {
		if err := opts.Claimed(ctx, p.live); err != nil {
			return nil, fmt.Errorf("apply %s: %w", meta.Subject(), err)
		}
	}
	if Excluded(desired) || Excluded(p.live) || (p.live != nil && SSAPolicy(desired) == compat.SSAIfNotPresent) {
		p.entry.Action = Skipped
		return p, nil
	}

	dryRun := desired.DeepCopy()
	if err := m.serverSideApply(ctx, dryRun, true); err != nil {
		if p.live == nil || !IsImmutableError(err) {
			return nil, fmt.Errorf("apply %s: %w", meta.Subject(), err)
		}
		if !opts.Force && !ForceEnabled(desired) && !ForceEnabled(p.live) {
			return nil, fmt.Errorf("apply %s: %w", meta.Subject(), newImmutableError(err))
		}
		p.recreate = true
		p.entry.Action = Created
		return p, nil
	}
	p.dryRun = dryRun

	if p.cleanup, err = cleanupPatch(desired, p.live, m.field, m.takeover); err != nil {
		return nil, fmt.Errorf("apply %s: %w", meta.Subject(), err)
	}
	switch {
	case p.live == nil:
		p.entry.Action = Created
	case p.cleanup != nil || Drifted(p.live, dryRun):
		p.entry.Action = Configured
	}
	return p, nil
}

// execute carries a plan out.
func (m *Manager) execute(ctx context.Context, p *plan, opts ApplyOptions) error {
	return opts.objectError(p.desired, m.executePlan(ctx, p, opts))
}

func (m *Manager) executePlan(ctx context.Context, p *plan, opts ApplyOptions) error {
	subject := p.entry.Subject
	switch {
	case p.entry.Action == Skipped || p.entry.Action == Unchanged:
		return nil
	case p.recreate:
		if err := m.recreate(ctx, p.desired, p.live, opts); err != nil {
			return fmt.Errorf("recreate %s: %w", subject, err)
		}
		return nil
	}
	if p.cleanup != nil {
		err := m.client.Patch(ctx, p.live.DeepCopy(), client.RawPatch(types.JSONPatchType, p.cleanup), client.FieldOwner(m.field))
		if err = secretError(p.live, err); err != nil {
			return fmt.Errorf("take over fields of %s: %w", subject, err)
		}
	}
	if err := m.serverSideApply(ctx, p.desired.DeepCopy(), false); err != nil {
		return fmt.Errorf("apply %s: %w", subject, err)
	}
	return nil
}

// getLive returns the live object, or nil when there is none.
func (m *Manager) getLive(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := m.client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, secretError(obj, err)
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
	return secretError(obj, m.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...))
}

// recreate deletes live, waits until it is gone and creates desired in its place.
func (m *Manager) recreate(ctx context.Context, desired, live *unstructured.Unstructured, opts ApplyOptions) error {
	uid := live.GetUID()
	err := m.client.Delete(ctx, live,
		client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete: %w", secretError(live, err))
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
