package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/safeyaml"
)

// varName is Flux's variable name rule.
var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// VarSource is one postBuild.substituteFrom entry with the data the caller
// fetched for it (ConfigMap data, or Secret data decoded to strings).
type VarSource struct {
	// Kind is ConfigMap or Secret; Name its name. Used in messages.
	Kind string
	Name string
	// Optional mirrors substituteFrom[].optional.
	Optional bool
	// Found is false when the referenced object does not exist.
	Found bool
	// Data holds the variables.
	Data map[string]string
}

// Vars is the resolved input of post-build substitution.
type Vars struct {
	// Substitute is postBuild.substitute; it wins over every source.
	Substitute map[string]string
	// From are the postBuild.substituteFrom entries in spec order; later
	// entries override earlier ones.
	From []VarSource
	// Strategy is postBuild.substituteStrategy; empty means WithVariables.
	Strategy kustomizev1.SubstituteStrategy
	// AllowUndefined turns off strict mode (Flux's
	// StrictPostBuildSubstitutions gate, on by default since 2.9): undefined
	// variables without a default then expand to "".
	AllowUndefined bool
}

// SecretValues returns the values of the variables read from Secrets, which no message may
// show.
func (v Vars) SecretValues() []string {
	var out []string
	for _, src := range v.From {
		if src.Kind != "Secret" {
			continue
		}
		for _, val := range src.Data {
			out = append(out, val)
		}
	}
	return out
}

// Resolve merges the sources into one variable map and validates the names.
// A missing source that is not optional is an error naming it.
func (v Vars) Resolve() (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, src := range v.From {
		if !src.Found {
			if src.Optional {
				continue
			}
			errs = append(errs, fmt.Errorf("substituteFrom %s/%s not found", src.Kind, src.Name))
			continue
		}
		for k, val := range src.Data {
			if !varName.MatchString(k) {
				errs = append(errs, fmt.Errorf("substituteFrom %s/%s: var name %q is invalid, must match %s", src.Kind, src.Name, k, varName))
				continue
			}
			out[k] = val
		}
	}
	from := make(map[string]string, len(out))
	for k, val := range out {
		from[k] = val
	}
	for k, val := range v.Substitute {
		if !varName.MatchString(k) {
			errs = append(errs, fmt.Errorf("substitute: var name %q is invalid, must match %s", k, varName))
			continue
		}
		// weir improvement over Flux: an inline value may refer to the substituteFrom
		// variables (`domain: "${domain}"`), and gets their value instead of the literal
		// text. Flux would substitute the literal "${domain}". References to variables that
		// no source defines stay as written.
		if expanded, err := Expand(val, from, true); err == nil {
			val = expanded
		}
		out[k] = val
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// enabled reports whether substitution runs at all: Flux skips it when no
// variable or source is declared, unless the strategy is Always.
func (v Vars) enabled() bool {
	return v.Strategy == kustomizev1.SubstituteStrategyAlways || len(v.Substitute) > 0 || len(v.From) > 0
}

// Substitute applies post-build variable substitution to every object, in
// place, as Flux does: each object is rendered to YAML, ${…} expressions are
// expanded and the result is parsed back. Objects labelled or annotated
// kustomize.toolkit.fluxcd.io/substitute: disabled are left untouched.
// Errors name the object and the variable, never a value.
func Substitute(objs []*unstructured.Unstructured, v Vars) error {
	if !v.enabled() {
		return nil
	}
	vars, err := v.Resolve()
	if err != nil {
		return fmt.Errorf("post-build substitution: %w", err)
	}
	for i, obj := range objs {
		out, err := SubstituteObject(obj, vars, !v.AllowUndefined)
		if err != nil {
			return err
		}
		objs[i] = out
	}
	return nil
}

// SubstituteObject returns obj with its variables expanded (obj itself when
// substitution is disabled for it or nothing changed).
func SubstituteObject(obj *unstructured.Unstructured, vars map[string]string, strict bool) (*unstructured.Unstructured, error) {
	if hasFlag(obj, SubstituteKey, "disabled") {
		return obj, nil
	}
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("post-build substitution %s: encode: %w", ObjectRef(obj), err)
	}
	if !strings.Contains(string(data), "$") {
		return obj, nil
	}
	out, err := Expand(string(data), vars, strict)
	if err != nil {
		return nil, fmt.Errorf("post-build substitution %s: %w", ObjectRef(obj), err)
	}
	if out == string(data) {
		return obj, nil
	}
	// Substituted text is YAML again: a default such as ${v:=&a [...]} written
	// in the repository can add anchors and aliases to it.
	if err := safeyaml.Check([]byte(out), safeyaml.DefaultLimits()); err != nil {
		return nil, fmt.Errorf("post-build substitution %s: %w", ObjectRef(obj), err)
	}
	res := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(out), &res.Object); err != nil {
		return nil, fmt.Errorf("post-build substitution %s: result is not valid YAML (quote numeric or boolean values)", ObjectRef(obj))
	}
	if res.Object == nil {
		return nil, fmt.Errorf("post-build substitution %s: result is empty", ObjectRef(obj))
	}
	// Round-trip through JSON so numbers are int64/float64 as in
	// unstructured objects.
	js, err := json.Marshal(res.Object)
	if err != nil {
		return nil, fmt.Errorf("post-build substitution %s: %w", ObjectRef(obj), err)
	}
	final := &unstructured.Unstructured{}
	if err := final.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("post-build substitution %s: %w", ObjectRef(obj), err)
	}
	return final, nil
}
