package health

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// celCostLimit bounds the work of one expression evaluation.
const celCostLimit = 1_000_000

// expression is one parsed CEL expression.
type expression struct {
	src string
	prg cel.Program
}

// rule is a compiled healthCheckExprs entry.
type rule struct {
	group, kind string
	inProgress  *expression
	failed      *expression
	current     *expression
}

// Evaluator computes health with Flux's healthCheckExprs, falling back to
// kstatus for kinds no expression covers. It is safe for concurrent use.
type Evaluator struct {
	rules []rule
}

// NewEvaluator compiles healthCheckExprs entries. The error names the entry
// and the expression; the reconciler reports it as InvalidCELExpression.
func NewEvaluator(exprs []kustomize.CustomHealthCheck) (*Evaluator, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	e := &Evaluator{}
	var errs []error
	for i, x := range exprs {
		gv, err := schema.ParseGroupVersion(x.APIVersion)
		if err != nil {
			errs = append(errs, fmt.Errorf("healthCheckExprs[%d]: apiVersion %q: %w", i, x.APIVersion, err))
			continue
		}
		r := rule{group: gv.Group, kind: x.Kind}
		if x.Current == "" {
			errs = append(errs, fmt.Errorf("healthCheckExprs[%d] (%s): expression current not specified", i, x.APIVersion))
			continue
		}
		for _, p := range []struct {
			name string
			src  string
			dst  **expression
		}{{"current", x.Current, &r.current}, {"failed", x.Failed, &r.failed}, {"inProgress", x.InProgress, &r.inProgress}} {
			if p.src == "" {
				continue
			}
			ex, err := parse(env, p.src)
			if err != nil {
				errs = append(errs, fmt.Errorf("healthCheckExprs[%d] (%s %s) %s: %w", i, x.APIVersion, x.Kind, p.name, err))
				continue
			}
			*p.dst = ex
		}
		e.rules = append(e.rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// celEnv is the one environment of every health expression (safe for concurrent use).
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(ext.Strings(), ext.Lists(), ext.Sets(), cel.OptionalTypes())
})

// programs keeps compiled expressions by their text: a Kustomization's health checks are
// compiled once, not at every reconcile (a large expression takes longer to parse than to
// evaluate). Bounded; emptied when full.
var programs = struct {
	mu sync.Mutex
	m  map[string]*expression
}{m: map[string]*expression{}}

const programsSize = 1024

// parse parses without type-checking: the variables are the top-level
// fields of whatever object is evaluated, which differ between kinds.
func parse(env *cel.Env, src string) (*expression, error) {
	programs.mu.Lock()
	ex, ok := programs.m[src]
	programs.mu.Unlock()
	if ok {
		return ex, nil
	}
	ex, err := compile(env, src)
	if err != nil {
		return nil, err
	}
	programs.mu.Lock()
	if len(programs.m) >= programsSize {
		clear(programs.m)
	}
	programs.m[src] = ex
	programs.mu.Unlock()
	return ex, nil
}

func compile(env *cel.Env, src string) (*expression, error) {
	ast, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("parse %q: %w", src, iss.Err())
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		return nil, fmt.Errorf("program %q: %w", src, err)
	}
	return &expression{src: src, prg: prg}, nil
}

// match returns the rule for obj's group and kind: an entry with an empty
// kind covers every kind of its group; an exact kind wins over it.
// HasRule reports whether a CEL rule of e judges objects of gvk (so that they must be read
// whole, every field as the cluster serves it).
func (e *Evaluator) HasRule(gvk schema.GroupVersionKind) bool {
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(gvk)
	return e.match(probe) != nil
}

func (e *Evaluator) match(obj *unstructured.Unstructured) *rule {
	if e == nil {
		return nil
	}
	gvk := obj.GroupVersionKind()
	var groupOnly *rule
	for i := range e.rules {
		r := &e.rules[i]
		if r.group != gvk.Group {
			continue
		}
		if r.kind == gvk.Kind {
			return r
		}
		if r.kind == "" && groupOnly == nil {
			groupOnly = r
		}
	}
	return groupOnly
}

// Covers reports whether an expression applies to obj.
func (e *Evaluator) Covers(obj *unstructured.Unstructured) bool { return e.match(obj) != nil }

// Status computes obj's health: with the matching expressions when there
// are any, otherwise with kstatus. A nil object is NotFound.
func (e *Evaluator) Status(ctx context.Context, obj *unstructured.Unstructured) (Result, error) {
	if obj == nil {
		return Result{Status: NotFound, Message: "object not found"}, nil
	}
	r := e.match(obj)
	if r == nil {
		return Status(obj)
	}
	if obj.GetDeletionTimestamp() != nil {
		return Result{Status: Terminating, Message: "object is being deleted"}, nil
	}
	observed, ok, err := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	if err == nil && ok && observed != obj.GetGeneration() {
		return Result{Status: InProgress, Message: fmt.Sprintf("observed generation %d is not the latest (%d)", observed, obj.GetGeneration())}, nil
	}
	vars := make(map[string]any, len(obj.Object)+1)
	for k, v := range obj.Object {
		vars[k] = v
	}
	if _, ok := vars["self"]; !ok {
		vars["self"] = obj.Object
	}
	for _, step := range []struct {
		ex     *expression
		status status.Status
	}{{r.inProgress, InProgress}, {r.failed, Failed}, {r.current, Current}} {
		if step.ex == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Result{Status: Unknown}, err
		}
		key := overCost.key(step.ex.src, obj)
		if overCost.has(key) {
			return overCostResult(step.status, obj)
		}
		out, _, err := step.ex.prg.ContextEval(ctx, vars)
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			// The same object costs the same again: waiting cannot help, and neither does
			// evaluating it again before it changes.
			overCost.add(key)
			return overCostResult(step.status, obj)
		}
		if err != nil {
			return Result{Status: Unknown}, fmt.Errorf("evaluate %q on %s: %w", step.ex.src, objectRef(obj), err)
		}
		b, ok := out.Value().(bool)
		if !ok {
			return Result{Status: Unknown}, fmt.Errorf("evaluate %q on %s: result is %s, not bool", step.ex.src, objectRef(obj), out.Type().TypeName())
		}
		if b {
			return Result{Status: step.status, Message: fmt.Sprintf("%s expression is true", step.status)}, nil
		}
	}
	return Result{Status: InProgress, Message: "no health check expression is true yet"}, nil
}

// CoversKind reports whether an expression applies to objects of gk.
func (e *Evaluator) CoversKind(gk schema.GroupKind) bool {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gk.WithVersion(""))
	return e.match(u) != nil
}

// overCostResult is the health of an object whose expression exceeded its cost limit.
func overCostResult(st status.Status, obj *unstructured.Unstructured) (Result, error) {
	return Result{Status: Failed, Message: "health check expression exceeds its cost limit"},
		fmt.Errorf("evaluate %s expression on %s: cost limit of %d exceeded", st, objectRef(obj), celCostLimit)
}

// overCost remembers the expressions that exceeded their cost limit on an object version, so
// that a failing check costs a map lookup, not another million steps, until the object changes.
var overCost = &costMemo{seen: map[string]struct{}{}}

// costMemo is a bounded set of (expression, object version) keys.
type costMemo struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// costMemoSize bounds the memo; it is emptied when full.
const costMemoSize = 4096

func (m *costMemo) key(src string, obj *unstructured.Unstructured) string {
	if obj.GetUID() == "" || obj.GetResourceVersion() == "" {
		return "" // not read from the API server: no version to remember
	}
	sum := sha256.Sum256([]byte(src))
	return string(sum[:8]) + string(obj.GetUID()) + "/" + obj.GetResourceVersion()
}

func (m *costMemo) has(key string) bool {
	if key == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.seen[key]
	return ok
}

func (m *costMemo) add(key string) {
	if key == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) >= costMemoSize {
		clear(m.seen)
	}
	m.seen[key] = struct{}{}
}
