package depends

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/cel-go/cel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
)

// Object is a Flux object with conditions; its dependsOn come from Checker.DependsOn, or from
// a GetDependsOn() []meta.DependencyReference method (Kustomization's).
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
}

// withDependsOn is the Kustomization's shape of dependsOn.
type withDependsOn interface {
	GetDependsOn() []meta.DependencyReference
}

// DependsOnOf returns obj's dependsOn through its GetDependsOn method, nil without one.
func DependsOnOf(obj client.Object) []meta.DependencyReference {
	if d, ok := obj.(withDependsOn); ok {
		return d.GetDependsOn()
	}
	return nil
}

// ExprCostLimit bounds the evaluation cost of a readyExpr (CEL's cost units).
const ExprCostLimit = 1_000_000

// Checker checks the dependencies of objects of one kind T.
type Checker[T Object] struct {
	// Reader reads dependencies; New returns an empty T.
	Reader client.Reader
	New    func() T
	// ObservedGeneration returns a dependency's status.observedGeneration.
	ObservedGeneration func(T) int64
	// NoCrossNamespaceRefs refuses dependencies in other namespaces (stalled, AccessDenied).
	NoCrossNamespaceRefs bool
	// RequeueDependency is when a dependent that waits is looked at again, at the latest.
	RequeueDependency time.Duration
	// Additive checks a readyExpr in addition to the built-in readiness, not instead of it
	// (Flux's AdditiveCELDependencyCheck gate).
	Additive bool
	// Also, when set, is a further condition on a dependency that is otherwise ready; it
	// returns why the dependency is not ready yet, or "".
	Also func(obj, dep T) string
	// DependsOn returns an object's dependencies; DependsOnOf when nil.
	DependsOn func(T) []meta.DependencyReference
}

func (c *Checker[T]) dependsOn(obj T) []meta.DependencyReference {
	if c.DependsOn != nil {
		return c.DependsOn(obj)
	}
	return DependsOnOf(obj)
}

// Key is the index key of a dependency of obj: "namespace/name".
func Key(obj client.Object, d meta.DependencyReference) string {
	ns := d.Namespace
	if ns == "" {
		ns = obj.GetNamespace()
	}
	return ns + "/" + d.Name
}

// IndexKeys are obj's dependencies (deps) as field-index keys, so that a dependency turning
// Ready finds its dependents.
func IndexKeys(obj client.Object, deps []meta.DependencyReference) []string {
	keys := make([]string, 0, len(deps))
	for _, d := range deps {
		keys = append(keys, Key(obj, d))
	}
	return keys
}

// Check returns nil when every dependency of obj is ready, a waiting error naming the first
// that is not (retried at RequeueDependency, or when it turns Ready), and a stalled error for
// a cycle, a refused cross-namespace reference or a bad readyExpr.
func (c *Checker[T]) Check(ctx context.Context, obj T) error {
	if len(c.dependsOn(obj)) == 0 {
		return nil
	}
	if cycle := c.FindCycle(ctx, obj); cycle != "" {
		return reconcile.Stalled(compat.DependencyNotReadyReason, fmt.Errorf("dependency cycle: %s", cycle))
	}
	for _, d := range c.dependsOn(obj) {
		key := Key(obj, d)
		ns, name, _ := strings.Cut(key, "/")
		if c.NoCrossNamespaceRefs && ns != obj.GetNamespace() {
			return reconcile.Stalled(compat.AccessDeniedReason,
				fmt.Errorf("can't access dependency '%s', cross-namespace references have been blocked", key))
		}
		dep := c.New()
		if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dep); err != nil {
			if apierrors.IsNotFound(err) {
				return c.waiting(fmt.Errorf("dependency '%s' not found", key))
			}
			return reconcile.Failed(compat.DependencyNotReadyReason, fmt.Errorf("get dependency '%s': %w", key, err))
		}
		if d.ReadyExpr != "" {
			ok, err := EvalReadyExpr(d.ReadyExpr, obj, dep)
			if err != nil {
				return reconcile.Stalled(compat.InvalidCELExpressionReason, fmt.Errorf("dependency '%s': readyExpr: %w", key, err))
			}
			if !ok {
				return c.waiting(fmt.Errorf("dependency '%s' is not ready according to readyExpr", key))
			}
			if !c.Additive {
				continue
			}
		}
		if c.ObservedGeneration(dep) != dep.GetGeneration() || !reconcile.IsReady(dep.GetConditions()) {
			return c.waiting(fmt.Errorf("dependency '%s' is not ready", key))
		}
		if c.Also != nil {
			if why := c.Also(obj, dep); why != "" {
				return c.waiting(fmt.Errorf("dependency '%s' %s", key, why))
			}
		}
	}
	return nil
}

func (c *Checker[T]) waiting(err error) error {
	return reconcile.Waiting(compat.DependencyNotReadyReason, c.RequeueDependency, err)
}

// FindCycle walks dependsOn from obj and returns the cycle through obj, like "a -> b -> a",
// or "" when there is none.
func (c *Checker[T]) FindCycle(ctx context.Context, obj T) string {
	start := obj.GetNamespace() + "/" + obj.GetName()
	seen := map[string]bool{}
	var path []string
	var walk func(key string, o T) bool
	walk = func(key string, o T) bool {
		path = append(path, key)
		defer func() { path = path[:len(path)-1] }()
		for _, d := range c.dependsOn(o) {
			next := Key(o, d)
			if next == start {
				path = append(path, next)
				return true
			}
			if seen[next] {
				continue
			}
			seen[next] = true
			ns, name, _ := strings.Cut(next, "/")
			dep := c.New()
			if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dep); err != nil {
				continue
			}
			if walk(next, dep) {
				return true
			}
		}
		return false
	}
	if walk(start, obj) {
		return strings.Join(path, " -> ")
	}
	return ""
}

// EvalReadyExpr evaluates a dependsOn readyExpr with `self` (the dependent) and `dep` (the
// dependency) bound to their objects, under ExprCostLimit.
func EvalReadyExpr(expr string, self, dep client.Object) (bool, error) {
	env, err := cel.NewEnv(cel.Variable("self", cel.DynType), cel.Variable("dep", cel.DynType))
	if err != nil {
		return false, err
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return false, iss.Err()
	}
	prg, err := env.Program(ast, cel.CostLimit(ExprCostLimit))
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
