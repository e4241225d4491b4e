package plan

import (
	"context"
	"fmt"
	"sort"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/compat"
)

// Action is what merging does to one object.
type Action string

// Actions.
const (
	Created   Action = "created"
	Changed   Action = "changed"
	Pruned    Action = "pruned"
	Drifted   Action = "drifted"
	Unchanged Action = "unchanged"
)

// Change is one object's change.
type Change struct {
	Action  Action `json:"action"`
	Subject string `json:"object"`
	File    string `json:"file,omitempty"`
	// Diff is a unified YAML diff, Secret values masked.
	Diff string `json:"diff,omitempty"`
}

// UnitPlan is what merging does to one Kustomization or HelmRelease.
type UnitPlan struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Source    string `json:"source,omitempty"`
	Path      string `json:"path,omitempty"`
	File      string `json:"file,omitempty"`
	// Status is added, removed, changed, unchanged, failed or unresolved (its source could
	// not be read).
	Status  string   `json:"status"`
	Error   string   `json:"error,omitempty"`
	Changes []Change `json:"changes,omitempty"`
}

// ID is Kind/namespace/name.
func (u UnitPlan) ID() string { return u.Kind + "/" + u.Namespace + "/" + u.Name }

// Plan is the answer: what changes, per unit, and what is wrong.
type Plan struct {
	// Mode is offline (against Base) or live (against the cluster).
	Mode       string            `json:"mode"`
	Base       string            `json:"base,omitempty"`
	Units      []UnitPlan        `json:"units"`
	Problems   []Problem         `json:"problems"`
	Unresolved map[string]string `json:"unresolvedSources,omitempty"`
	Summary    Summary           `json:"summary"`
}

// Summary counts a plan.
type Summary struct {
	Units     int `json:"units"`
	Created   int `json:"created"`
	Changed   int `json:"changed"`
	Pruned    int `json:"pruned"`
	Drifted   int `json:"drifted"`
	Unchanged int `json:"unchanged"`
	Problems  int `json:"problems"`
}

// HasChanges reports whether merging would change the cluster.
func (p *Plan) HasChanges() bool {
	s := p.Summary
	return s.Created+s.Changed+s.Pruned+s.Drifted > 0
}

func (p *Plan) finish(problems []Problem, unresolved map[string]string) {
	p.Problems = problems
	if p.Problems == nil {
		p.Problems = []Problem{}
	}
	p.Unresolved = unresolved
	sort.SliceStable(p.Units, func(i, j int) bool { return p.Units[i].ID() < p.Units[j].ID() })
	p.Summary = Summary{Units: len(p.Units), Problems: len(p.Problems)}
	for _, u := range p.Units {
		for _, c := range u.Changes {
			switch c.Action {
			case Created:
				p.Summary.Created++
			case Changed:
				p.Summary.Changed++
			case Pruned:
				p.Summary.Pruned++
			case Drifted:
				p.Summary.Drifted++
			case Unchanged:
				p.Summary.Unchanged++
			}
		}
	}
}

func newUnitPlan(u *Unit) UnitPlan {
	return UnitPlan{Kind: u.Kind, Namespace: u.Namespace, Name: u.Name, Source: u.Source, Path: u.Path, File: u.File, Error: u.Err}
}

// Compare is the offline plan: what head applies against what base applies (base may be nil:
// everything is created), with head's problems.
func Compare(base, head *Snapshot, baseName string) *Plan {
	p := &Plan{Mode: "offline", Base: baseName}
	seen := map[string]bool{}
	for _, h := range head.Units {
		seen[h.ID()] = true
		up := newUnitPlan(h)
		var b *Unit
		if base != nil {
			b = base.Unit(h.ID())
		}
		switch {
		case h.Unresolved:
			up.Status = "unresolved"
		case h.Err != "":
			up.Status = "failed"
		case b == nil || b.Err != "" && len(b.Objects) == 0:
			up.Status = "added"
			if b != nil {
				up.Status = "changed"
			}
			up.Changes = diffObjects(nil, h.Objects, h.Files, nil)
		default:
			up.Changes = diffObjects(b.Objects, h.Objects, h.Files, b.Files)
			up.Status = statusOf(up.Changes)
		}
		p.Units = append(p.Units, up)
	}
	if base != nil {
		for _, b := range base.Units {
			if seen[b.ID()] {
				continue
			}
			up := newUnitPlan(b)
			up.Error = ""
			up.Status = "removed"
			up.Changes = diffObjects(b.Objects, nil, nil, b.Files)
			p.Units = append(p.Units, up)
		}
	}
	p.finish(Check(head), head.Unresolved)
	return p
}

func statusOf(changes []Change) string {
	for _, c := range changes {
		if c.Action != Unchanged {
			return "changed"
		}
	}
	return "unchanged"
}

// diffObjects compares two object sets by identity.
func diffObjects(before, after []*unstructured.Unstructured, afterFiles, beforeFiles map[string]string) []Change {
	old := map[string]*unstructured.Unstructured{}
	for _, o := range before {
		old[apply.ObjMetadataFor(o).ID()] = o
	}
	var out []Change
	for _, o := range after {
		meta := apply.ObjMetadataFor(o)
		c := Change{Subject: meta.Subject(), File: afterFiles[meta.Subject()]}
		prev, ok := old[meta.ID()]
		delete(old, meta.ID())
		d, err := apply.ObjectDiff(prev, o)
		if err != nil {
			d = err.Error()
		}
		switch {
		case !ok:
			c.Action = Created
		case d == "":
			c.Action = Unchanged
		default:
			c.Action = Changed
		}
		c.Diff = d
		out = append(out, c)
	}
	for _, o := range before {
		meta := apply.ObjMetadataFor(o)
		if _, gone := old[meta.ID()]; !gone {
			continue
		}
		out = append(out, Change{Action: Pruned, Subject: meta.Subject(), File: beforeFiles[meta.Subject()]})
	}
	return out
}

// Live is the live plan: head against the cluster, through server-side dry runs with the
// field managers weir uses, and what prune would delete by the cluster's inventories. With a
// base snapshot, an object the checkout does not change but the cluster holds otherwise is
// reported as drifted.
func Live(ctx context.Context, c client.Client, head, base *Snapshot, baseName string) (*Plan, error) {
	p := &Plan{Mode: "live", Base: baseName}
	for _, u := range head.Units {
		up := newUnitPlan(u)
		if u.Err != "" {
			up.Status = "failed"
			if u.Unresolved {
				up.Status = "unresolved"
			}
			p.Units = append(p.Units, up)
			continue
		}
		var b *Unit
		if base != nil {
			b = base.Unit(u.ID())
		}
		changes, inCluster, err := liveUnit(ctx, c, u, b)
		if err != nil {
			up.Status, up.Error = "failed", err.Error()
		}
		up.Changes = changes
		if up.Status == "" {
			up.Status = statusOf(changes)
			if !inCluster {
				up.Status = "added"
			}
		}
		p.Units = append(p.Units, up)
	}
	p.finish(Check(head), head.Unresolved)
	return p, nil
}

// liveUnit diffs one unit against the cluster.
func liveUnit(ctx context.Context, c client.Client, u, base *Unit) ([]Change, bool, error) {
	declared := map[string]*unstructured.Unstructured{}
	if base != nil {
		for _, o := range base.Objects {
			declared[apply.ObjMetadataFor(o).Subject()] = o
		}
	}
	byID := map[string]*unstructured.Unstructured{}
	for _, o := range u.Objects {
		byID[apply.ObjMetadataFor(o).Subject()] = o
	}
	opts := apply.Options{}
	var inventory *kustomizev1.ResourceInventory
	prune := false
	inCluster := false
	switch u.Kind {
	case KindKustomization:
		opts.Owner = apply.Owner{Name: u.Name, Namespace: u.Namespace}
		var ks kustomizev1.Kustomization
		if err := c.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.Name}, &ks); err == nil {
			inventory, prune, inCluster = ks.Status.Inventory, ks.Spec.Prune, true
		}
	case KindHelmRelease:
		opts.FieldManager = compat.HelmFieldManager
		var hr helmv2.HelmRelease
		if err := c.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.Name}, &hr); err == nil {
			inCluster = true
			if hr.Status.Inventory != nil {
				inventory, prune = &kustomizev1.ResourceInventory{}, true
				for _, e := range hr.Status.Inventory.Entries {
					inventory.Entries = append(inventory.Entries, kustomizev1.ResourceRef{ID: e.ID, Version: e.Version})
				}
			}
		}
	}
	m := apply.NewManager(c, opts)
	force := u.spec != nil && u.spec.Spec.Force
	entries, diffErr := m.Diff(ctx, u.Objects, apply.ApplyOptions{Force: force})
	var out []Change
	for _, e := range entries {
		ch := Change{Subject: e.Subject, File: u.Files[e.Subject], Diff: e.Diff}
		switch e.Action {
		case apply.Created:
			ch.Action = Created
		case apply.Configured:
			ch.Action = Changed
			if prev, ok := declared[e.Subject]; ok {
				if d, err := apply.ObjectDiff(prev, byID[e.Subject]); err == nil && d == "" {
					ch.Action = Drifted
				}
			}
		default:
			ch.Action = Unchanged
		}
		out = append(out, ch)
	}
	if prune && inventory != nil {
		stale, err := apply.Stale(inventory, apply.InventoryOf(u.Objects))
		if err != nil {
			return out, inCluster, fmt.Errorf("read the inventory of %s: %w", u.ID(), err)
		}
		owner := m.OwnerLabels()
		for _, s := range stale {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(s.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), live); err != nil {
				continue
			}
			if apply.PruneDisabled(live) || apply.ReconcileDisabled(live) || !hasLabels(live, owner) {
				continue
			}
			out = append(out, Change{Action: Pruned, Subject: apply.ObjMetadataFor(live).Subject()})
		}
	}
	if diffErr != nil {
		return out, inCluster, diffErr
	}
	return out, inCluster, nil
}

func hasLabels(u *unstructured.Unstructured, want map[string]string) bool {
	l := u.GetLabels()
	for k, v := range want {
		if l[k] != v {
			return false
		}
	}
	return true
}
