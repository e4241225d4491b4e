package kustomize

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weirgitops/weir/internal/build"
)

// buildCache keeps the objects of recent builds by the digest of everything that decides
// them: the files the build reached, the Kustomization's overrides and path, and its
// variables. Identical builds, such as an interval re-apply of an unchanged revision or two
// Kustomizations building the same inputs the same way, are computed once.
type buildCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]built
	order   []string
}

// built is the result of one build: its objects and the values no message may show (what
// SOPS decrypted and what was substituted from Secrets).
type built struct {
	objs      []*unstructured.Unstructured
	sensitive []string
	// inputs are the files the build reached (kept by the kustomize stage's cache).
	inputs build.Inputs
}

// buildKey is the cache key of a build, or "" when the spec cannot be encoded.
func buildKey(ks *kustomizev1.Kustomization, inputsDigest, varsDigest string) string {
	spec, err := json.Marshal(struct {
		Path      string
		Overrides build.Overrides
	}{ks.Spec.Path, build.OverridesFromSpec(&ks.Spec)})
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(inputsDigest + "\x00" + varsDigest + "\x00"))
	h.Write(spec)
	return hex.EncodeToString(h.Sum(nil))
}

// get returns deep copies of the cached objects for key.
func (c *buildCache) get(key string) (built, bool) {
	if key == "" {
		return built{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.entries[key]
	if !ok {
		return built{}, false
	}
	return built{objs: deepCopy(b.objs), sensitive: slices.Clone(b.sensitive), inputs: b.inputs.Clone()}, true
}

// put remembers deep copies of b's objects under key, evicting the oldest entries beyond max.
func (c *buildCache) put(key string, b built) {
	if key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]built{}
	}
	if _, ok := c.entries[key]; !ok {
		c.order = append(c.order, key)
	}
	c.entries[key] = built{objs: deepCopy(b.objs), sensitive: slices.Clone(b.sensitive), inputs: b.inputs.Clone()}
	for len(c.order) > c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

func deepCopy(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// kustomizedCacheSize bounds the kustomize-stage cache: it pays when many Kustomizations build
// one artifact and path at once, which needs few entries; a monorepo's distinct paths only
// churn it.
const kustomizedCacheSize = 16
