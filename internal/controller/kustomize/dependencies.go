package kustomize

import (
	"context"
	"fmt"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/cel-go/cel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/reconcile"
)

// dependencyKey is the index key of a dependency: "namespace/name".
func dependencyKey(ks *kustomizev1.Kustomization, d meta.DependencyReference) string {
	ns := d.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	return ns + "/" + d.Name
}

// checkDependencies reports the first dependency that is not ready. A dependency that uses
// the same source must have applied the revision this Kustomization is about to apply, as in
// Flux. A dependency cycle is reported, not waited on.
func (r *Reconciler) checkDependencies(ctx context.Context, ks *kustomizev1.Kustomization, src sourceArtifact) error {
	if len(ks.Spec.DependsOn) == 0 {
		return nil
	}
	if cycle := r.findCycle(ctx, ks); cycle != "" {
		return reconcile.Stalled(compat.DependencyNotReadyReason, fmt.Errorf("dependency cycle: %s", cycle))
	}
	for _, d := range ks.Spec.DependsOn {
		key := dependencyKey(ks, d)
		ns, name, _ := strings.Cut(key, "/")
		if r.NoCrossNamespaceRefs && ns != ks.Namespace {
			return reconcile.Stalled(compat.AccessDeniedReason,
				fmt.Errorf("can't access dependency '%s', cross-namespace references have been blocked", key))
		}
		var dep kustomizev1.Kustomization
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &dep); err != nil {
			if apierrors.IsNotFound(err) {
				return reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
					fmt.Errorf("dependency '%s' not found", key))
			}
			return reconcile.Failed(compat.DependencyNotReadyReason, fmt.Errorf("get dependency '%s': %w", key, err))
		}
		if d.ReadyExpr != "" {
			ok, err := evalReadyExpr(d.ReadyExpr, ks, &dep)
			if err != nil {
				return reconcile.Stalled(compat.InvalidCELExpressionReason,
					fmt.Errorf("dependency '%s': readyExpr: %w", key, err))
			}
			if !ok {
				return reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
					fmt.Errorf("dependency '%s' is not ready according to readyExpr", key))
			}
			if !r.Gates.Enabled(features.AdditiveCELDependencyCheck) {
				continue
			}
		}
		if dep.Generation != dep.Status.ObservedGeneration || !reconcile.IsReady(dep.Status.Conditions) {
			return reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
				fmt.Errorf("dependency '%s' is not ready", key))
		}
		if sourceRefKey(&dep) == sourceRefKey(ks) && dep.Status.LastAppliedRevision != src.artifact.Revision {
			return reconcile.Waiting(compat.DependencyNotReadyReason, r.RequeueDependency,
				fmt.Errorf("dependency '%s' revision is not up to date", key))
		}
	}
	return nil
}

// findCycle walks dependsOn from ks and returns the cycle through ks, like "a -> b -> a", or
// "" when there is none.
func (r *Reconciler) findCycle(ctx context.Context, ks *kustomizev1.Kustomization) string {
	start := ks.Namespace + "/" + ks.Name
	seen := map[string]bool{}
	var path []string
	var walk func(key string, obj *kustomizev1.Kustomization) bool
	walk = func(key string, obj *kustomizev1.Kustomization) bool {
		path = append(path, key)
		defer func() { path = path[:len(path)-1] }()
		for _, d := range obj.Spec.DependsOn {
			next := dependencyKey(obj, d)
			if next == start {
				path = append(path, next)
				return true
			}
			if seen[next] {
				continue
			}
			seen[next] = true
			ns, name, _ := strings.Cut(next, "/")
			var dep kustomizev1.Kustomization
			if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &dep); err != nil {
				continue
			}
			if walk(next, &dep) {
				return true
			}
		}
		return false
	}
	if walk(start, ks) {
		return strings.Join(path, " -> ")
	}
	return ""
}

// evalReadyExpr evaluates a dependsOn readyExpr with `self` (the dependent) and `dep` (the
// dependency) bound to their objects.
func evalReadyExpr(expr string, self, dep *kustomizev1.Kustomization) (bool, error) {
	env, err := cel.NewEnv(cel.Variable("self", cel.DynType), cel.Variable("dep", cel.DynType))
	if err != nil {
		return false, err
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return false, iss.Err()
	}
	prg, err := env.Program(ast)
	if err != nil {
		return false, err
	}
	selfMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(self)
	if err != nil {
		return false, err
	}
	depMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dep)
	if err != nil {
		return false, err
	}
	out, _, err := prg.Eval(map[string]any{"self": selfMap, "dep": depMap})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression does not evaluate to a bool")
	}
	return b, nil
}
