package source

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
)

// getSecret reads a Secret of a namespace with a message that names it.
func getSecret(ctx context.Context, c client.Reader, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", namespace, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", namespace, name, err)
	}
	return &s, nil
}

// summarizeSource writes a source's outcome into its conditions: on success ArtifactInStorage
// and Ready with msg and the failure conditions gone; on failure the negative condition of the
// failure's kind (FetchFailed, IncludeUnavailable, StorageOperationFailed) and Ready=False.
// fetchReasons are the kind's reasons that mean the fetch failed.
func summarizeSource(conds reconcile.Conditions, err error, msg string, fetchReasons ...string) {
	if err == nil {
		for _, t := range []string{compat.FetchFailedCondition, compat.IncludeUnavailableCondition,
			compat.StorageOperationFailedCondition, compat.ArtifactOutdatedCondition} {
			conds.Delete(t)
		}
		conds.True(compat.ArtifactInStorageCondition, compat.SucceededReason, msg)
		conds.Ready(compat.SucceededReason, msg)
		return
	}
	reason := reconcile.Reason(err, compat.FailedReason)
	text := err.Error()
	switch reason {
	case compat.IncludeUnavailableReason:
		conds.True(compat.IncludeUnavailableCondition, reason, text)
	case compat.ArchiveOperationFailedReason, compat.StorageOperationFailedReason, compat.StatOperationFailedReason:
		conds.True(compat.StorageOperationFailedCondition, reason, text)
	case compat.VerificationErrorReason:
		// SourceVerified=False says it; the fetch itself worked.
	default:
		for _, r := range append(fetchReasons, compat.AuthenticationFailedReason, compat.URLInvalidReason) {
			if r == reason {
				conds.True(compat.FetchFailedCondition, reason, text)
			}
		}
	}
	conds.NotReady(reason, text, reconcile.IsStalled(err))
}

// storedAt reports whether a source's artifact is still in the store.
func storedAt(store *artifact.Store, a *meta.Artifact) bool {
	if a == nil {
		return false
	}
	_, err := os.Stat(store.Root() + "/" + a.Path)
	return err == nil
}

func artifactOf(rec artifact.Record) *meta.Artifact {
	size := rec.Size
	return &meta.Artifact{
		Path: rec.Path, URL: rec.URL, Revision: rec.Revision, Digest: rec.Digest,
		LastUpdateTime: metav1.NewTime(rec.LastUpdateTime), Size: &size,
	}
}

func recordOf(a *meta.Artifact) artifact.Record {
	rec := artifact.Record{Path: a.Path, URL: a.URL, Revision: a.Revision, Digest: a.Digest, LastUpdateTime: a.LastUpdateTime.Time}
	if a.Size != nil {
		rec.Size = *a.Size
	}
	return rec
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// sourceOutcome is what one run of a source's steps did: its failure, if any.
type sourceOutcome struct{ err error }

// Err returns the failure, nil on success.
func (o sourceOutcome) Err() error { return o.err }

// quietSteps are the reconcile.Steps methods the sources share: their events are recorded when
// an artifact is stored (Report adds none), failures carry no metadata, the skeleton's requeue
// stands and nothing is remembered per object. A reconciler embeds it and defines what differs.
type quietSteps[T any, O any] struct{}

// Report records nothing more.
func (quietSteps[T, O]) Report(T, O, time.Duration) {}

// EventMetadata is empty.
func (quietSteps[T, O]) EventMetadata(T, O) map[string]string { return nil }

// Requeue keeps the skeleton's decision.
func (quietSteps[T, O]) Requeue(_ T, _ O, res ctrl.Result) ctrl.Result { return res }

// Forget has nothing to drop.
func (quietSteps[T, O]) Forget(types.NamespacedName) {}

// storeObject names the artifacts of a source object of kind in the store.
func storeObject(kind string, obj client.Object) artifact.Object {
	return artifact.Object{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// deleteArtifacts is a source's finalization: its artifacts leave the store.
func deleteArtifacts(ctx context.Context, store *artifact.Store, o artifact.Object) error {
	if err := store.Delete(ctx, o); err != nil {
		return reconcile.Failed(compat.StorageOperationFailedReason, fmt.Errorf("delete artifacts of %s: %w", o, err))
	}
	return nil
}
