package reconcile

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/weirgitops/weir/internal/compat"
)

// RecordHistory records a reconcile that reached the objects of digest (the checksum of the
// manifests applied, "sha256:<hex>") in history, as Flux 2.7+ writes status.history: snapshots
// keyed by digest and status (the Ready condition's reason), most recent first, at most
// meta.HistoryMaxSize, each with first and last reconcile times, the last duration, a count and
// metadata naming the revision (and the origin revision when there is one). Kustomization and
// HelmRelease share it.
func RecordHistory(history *meta.History, digest string, took time.Duration, status, revision, originRevision string) {
	if digest == "" {
		return
	}
	md := map[string]string{compat.RevisionMetaKey: revision}
	if originRevision != "" {
		md[compat.OriginRevisionMetaKey] = originRevision
	}
	history.Upsert(digest, time.Now(), took, status, md)
}
