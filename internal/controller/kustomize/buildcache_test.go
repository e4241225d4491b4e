package kustomize

import (
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestBuildCacheKeysAndEviction(t *testing.T) {
	ks := &kustomizev1.Kustomization{Spec: kustomizev1.KustomizationSpec{Path: "./app"}}
	other := ks.DeepCopy()
	other.Spec.TargetNamespace = "elsewhere"
	key := buildKey(ks, "sha256:inputs", "vars")
	for name, k := range map[string]string{
		"other inputs":    buildKey(ks, "sha256:other", "vars"),
		"other variables": buildKey(ks, "sha256:inputs", "other"),
		"other overrides": buildKey(other, "sha256:inputs", "vars"),
	} {
		if k == key {
			t.Errorf("%s give the same key", name)
		}
	}
	if buildKey(ks.DeepCopy(), "sha256:inputs", "vars") != key {
		t.Error("equal builds give different keys")
	}

	c := buildCache{max: 2}
	obj := &unstructured.Unstructured{Object: map[string]any{"kind": "ConfigMap"}}
	c.put("a", built{objs: []*unstructured.Unstructured{obj}, sensitive: []string{"s3cret"}})
	got, ok := c.get("a")
	if !ok || got.objs[0].GetKind() != "ConfigMap" || got.sensitive[0] != "s3cret" {
		t.Fatalf("get after put: %v %v", got, ok)
	}
	got.objs[0].SetKind("Mutated")
	if again, _ := c.get("a"); again.objs[0].GetKind() != "ConfigMap" {
		t.Error("a caller's change reached the cache")
	}
	c.put("b", built{})
	c.put("c", built{})
	if _, ok := c.get("a"); ok {
		t.Error("the oldest entry was not evicted")
	}
}
