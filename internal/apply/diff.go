package apply

import (
	"fmt"
	"reflect"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Masks that replace Secret values in diffs: equal values look equal, changed ones differ.
const (
	maskSame   = "***"
	maskBefore = "*** (before)"
	maskAfter  = "*** (after)"
)

// ObjectDiff returns a unified diff of two versions of one object as YAML, from live (nil for
// an object that does not exist yet) to merged (nil for one about to be deleted), labelled
// with the object's subject. Server-maintained metadata (managedFields, resourceVersion,
// generation, uid, creationTimestamp) is left out, and the values of a Secret's data and stringData are masked. It
// returns "" when the two are the same.
func ObjectDiff(live, merged *unstructured.Unstructured) (string, error) {
	var subject string
	switch {
	case merged != nil:
		subject = ObjMetadataFor(merged).Subject()
	case live != nil:
		subject = ObjMetadataFor(live).Subject()
	default:
		return "", nil
	}
	live, merged = forDiff(live), forDiff(merged)
	maskSecrets(live, merged)
	a, err := toYAML(live)
	if err != nil {
		return "", fmt.Errorf("diff %s: %w", subject, err)
	}
	b, err := toYAML(merged)
	if err != nil {
		return "", fmt.Errorf("diff %s: %w", subject, err)
	}
	if a == b {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(a),
		B:        difflib.SplitLines(b),
		FromFile: subject + " (live)",
		ToFile:   subject + " (merged)",
		Context:  3,
	})
}

func forDiff(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	u := obj.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	return u
}

func toYAML(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", nil
	}
	b, err := yaml.Marshal(obj.Object)
	return string(b), err
}

func isSecret(obj *unstructured.Unstructured) bool {
	return obj != nil && obj.GetKind() == "Secret" && obj.GroupVersionKind().Group == ""
}

// maskSecrets replaces the values of data and stringData in Secrets (either may be nil):
// keys with the same value on both sides get the same mask, others differing masks.
func maskSecrets(a, b *unstructured.Unstructured) {
	if !isSecret(a) && !isSecret(b) {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		av := secretValues(a, field)
		bv := secretValues(b, field)
		for k, v := range av {
			if w, ok := bv[k]; ok && reflect.DeepEqual(w, v) {
				av[k] = maskSame
			} else {
				av[k] = maskBefore
			}
		}
		for k := range bv {
			if av[k] == maskSame {
				bv[k] = maskSame
			} else {
				bv[k] = maskAfter
			}
		}
		setSecretValues(a, field, av)
		setSecretValues(b, field, bv)
	}
}

func secretValues(obj *unstructured.Unstructured, field string) map[string]any {
	if obj == nil {
		return nil
	}
	m, _, _ := unstructured.NestedMap(obj.Object, field)
	return m
}

func setSecretValues(obj *unstructured.Unstructured, field string, m map[string]any) {
	if obj == nil || m == nil {
		return
	}
	_ = unstructured.SetNestedMap(obj.Object, m, field)
}
