package helmrelease

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
)

// The digests below are computed as Flux's helm-controller computes them, so that the status
// weir writes and the one Flux wrote can be read by either: a release Flux installed is in sync
// for weir, and one weir installed verifies for Flux, with no upgrade on the way.

func sum(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// configDigest is the digest of values as Flux's lastAttemptedConfigDigest: SHA-256 of their
// YAML encoding (Helm's Values.Encode), empty values as {}.
func configDigest(values map[string]any) string {
	if values == nil {
		values = map[string]any{}
	}
	h := sha256.New()
	_ = chartcommon.Values(values).Encode(h) // writing to a hash does not fail
	return sum(h)
}

// snapshotConfigDigest is a snapshot's configDigest: as configDigest, except that a release
// without values digests as nil, as Flux's observation of it does.
func snapshotConfigDigest(values map[string]any) string {
	if len(values) == 0 {
		values = nil
	}
	h := sha256.New()
	_ = chartcommon.Values(values).Encode(h)
	return sum(h)
}

// observation is the part of a release Flux digests for a snapshot (test hooks left out, so
// that running tests does not change it).
type observation struct {
	Name          string           `json:"name"`
	Version       int              `json:"version"`
	Info          releasev1.Info   `json:"info"`
	ChartMetadata chart.Metadata   `json:"chartMetadata"`
	Config        map[string]any   `json:"config"`
	Manifest      string           `json:"manifest"`
	Hooks         []releasev1.Hook `json:"hooks"`
	Namespace     string           `json:"namespace"`
	OCIDigest     string           `json:"ociDigest,omitempty"`
}

// releaseDigest is a snapshot's digest of rel: SHA-256 of the JSON encoding of its observation.
func releaseDigest(rel *releasev1.Release, ociDigest string) string {
	o := observation{Name: rel.Name, Version: rel.Version, Manifest: rel.Manifest, Namespace: rel.Namespace, OCIDigest: ociDigest}
	if rel.Info != nil {
		o.Info = *rel.Info
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		o.ChartMetadata = *rel.Chart.Metadata
	}
	if len(rel.Config) > 0 {
		o.Config = rel.Config
	}
	for _, h := range rel.Hooks {
		if h != nil && !isTestHook(h) {
			o.Hooks = append(o.Hooks, *h)
		}
	}
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(o); err != nil {
		return ""
	}
	return sum(h)
}

func isTestHook(h *releasev1.Hook) bool {
	for _, e := range h.Events {
		if e == releasev1.HookTest {
			return true
		}
	}
	return false
}

// specDigest is Flux's digest of spec.postRenderers or spec.commonMetadata (observed in
// status to upgrade when they change): SHA-256 of their JSON encoding, "" when unset.
func specDigest[T any](v T, set bool) string {
	if !set {
		return ""
	}
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(v); err != nil {
		return ""
	}
	return sum(h)
}

// postRenderersDigest and commonMetadataDigest are the observed digests of the spec's.
func postRenderersDigest(hr *helmv2.HelmRelease) string {
	return specDigest(hr.Spec.PostRenderers, hr.Spec.PostRenderers != nil)
}

func commonMetadataDigest(hr *helmv2.HelmRelease) string {
	return specDigest(hr.Spec.CommonMetadata, hr.Spec.CommonMetadata != nil)
}
