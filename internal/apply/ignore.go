package apply

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fluxcd/pkg/apis/kustomize"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
)

// IgnoreRule is a Flux ignore rule (a Kustomization's spec.ignore, a HelmRelease's
// spec.driftDetection.ignore): JSON pointers to leave alone, on the objects a selector picks.
type IgnoreRule struct {
	Paths  []string
	Target *kustomize.Selector
}

// IgnoredPaths are the JSON pointers of rules that apply to obj: a rule without a target
// applies to every object, one with a target to the objects its selector (group, version,
// kind, name and namespace as anchored regular expressions, label and annotation selectors)
// matches.
func IgnoredPaths(rules []IgnoreRule, obj *unstructured.Unstructured) ([]string, error) {
	var out []string
	for i, rule := range rules {
		if rule.Target != nil {
			ok, err := selects(rule.Target.Group, rule.Target.Version, rule.Target.Kind, rule.Target.Name, rule.Target.Namespace,
				rule.Target.LabelSelector, rule.Target.AnnotationSelector, obj)
			if err != nil {
				return nil, fmt.Errorf("ignore[%d]: %w", i, err)
			}
			if !ok {
				continue
			}
		}
		out = append(out, rule.Paths...)
	}
	return out, nil
}

// selects reports whether a kustomize-style selector matches obj.
func selects(group, version, kind, name, namespace, labelSel, annotationSel string, obj *unstructured.Unstructured) (bool, error) {
	gvk := obj.GroupVersionKind()
	sr, err := kustypes.NewSelectorRegex(&kustypes.Selector{
		ResId: resid.ResId{Gvk: resid.Gvk{Group: group, Version: version, Kind: kind}, Name: name, Namespace: namespace},
	})
	if err != nil {
		return false, err
	}
	if !sr.MatchGvk(resid.Gvk{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}) ||
		!sr.MatchName(obj.GetName()) || !sr.MatchNamespace(obj.GetNamespace()) {
		return false, nil
	}
	for _, s := range []struct {
		sel string
		set map[string]string
	}{{labelSel, obj.GetLabels()}, {annotationSel, obj.GetAnnotations()}} {
		if s.sel == "" {
			continue
		}
		parsed, err := labels.Parse(s.sel)
		if err != nil {
			return false, fmt.Errorf("selector %q: %w", s.sel, err)
		}
		if !parsed.Matches(labels.Set(s.set)) {
			return false, nil
		}
	}
	return true, nil
}

// AdoptIgnored makes the ignored fields of desired what they are in live: a value live has is
// copied, one it lacks is removed. Applying desired then neither reports nor changes them.
func AdoptIgnored(desired, live *unstructured.Unstructured, paths []string) error {
	for _, p := range paths {
		tokens, err := parsePointer(p)
		if err != nil {
			return err
		}
		if len(tokens) == 0 {
			continue // the whole object cannot be ignored
		}
		if v, ok := pointerGet(live.Object, tokens); ok {
			pointerSet(desired.Object, tokens, v)
		} else {
			pointerRemove(desired.Object, tokens)
		}
	}
	return nil
}

// parsePointer splits an RFC 6901 JSON pointer into its unescaped reference tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("JSON pointer %q does not start with '/'", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// pointerGet returns the value at tokens in doc.
func pointerGet(doc any, tokens []string) (any, bool) {
	cur := doc
	for _, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// pointerSet sets the value at tokens in doc, creating maps on the way; a path through a
// missing list element or a scalar is left alone.
func pointerSet(doc map[string]any, tokens []string, v any) {
	var cur any = doc
	for n, t := range tokens {
		last := n == len(tokens)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[t] = v
				return
			}
			next, ok := c[t]
			if !ok {
				next = map[string]any{}
				c[t] = next
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return
			}
			if last {
				c[i] = v
				return
			}
			cur = c[i]
		default:
			return
		}
	}
}

// pointerRemove deletes the map entry at tokens in doc; list elements are left in place.
func pointerRemove(doc map[string]any, tokens []string) {
	parent, ok := pointerGet(doc, tokens[:len(tokens)-1])
	if !ok {
		return
	}
	if m, ok := parent.(map[string]any); ok {
		delete(m, tokens[len(tokens)-1])
	}
}

// AdoptAllIgnored applies rules to objs: the ignored fields of each object that exists take the
// cluster's values (read with c), so that neither a comparison nor an apply touches them.
func AdoptAllIgnored(ctx context.Context, c client.Reader, rules []IgnoreRule, objs []*unstructured.Unstructured) error {
	if len(rules) == 0 {
		return nil
	}
	for _, o := range objs {
		paths, err := IgnoredPaths(rules, o)
		if err != nil {
			return err
		}
		if len(paths) == 0 {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("read %s %s: %w", o.GetKind(), client.ObjectKeyFromObject(o), err)
		}
		if err := AdoptIgnored(o, live, paths); err != nil {
			return err
		}
	}
	return nil
}
