package kustomize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/build"
)

// inputState is what the last successful reconcile of a Kustomization built from: its spec
// generation, the files the build reached and their digest, and the digest of its
// substitution variables and decryption keys. Path-aware reconciliation compares a new
// revision against it.
type inputState struct {
	generation int64
	inputs     build.Inputs
	digest     string
	vars       string
	// sensitive are the values no message may show: what SOPS decrypted and the values of
	// substituteFrom Secrets.
	sensitive []string
	// manifests is the digest of the objects built, which names status.history snapshots.
	manifests string
}

// varsDigest hashes the substitution variables and the decryption Secret's version, read
// from the API server, so that a change to either forces a rebuild.
func (r *Reconciler) varsDigest(ctx context.Context, ks *kustomizev1.Kustomization) (string, error) {
	h := sha256.New()
	if ks.Spec.PostBuild != nil {
		vars, err := r.substitutionVars(ctx, ks)
		if err != nil {
			return "", err
		}
		resolved, err := vars.Resolve()
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(resolved)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	if d := ks.Spec.Decryption; d != nil && d.SecretRef != nil {
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ks.Namespace, Name: d.SecretRef.Name}, &s); err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s/%s", s.UID, s.ResourceVersion)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// unchangedInputs reports whether the new source revision leaves everything the last
// successful build read byte-identical, with the same spec and variables: then nothing
// needs to be built or applied, only the revision recorded.
func (r *Reconciler) unchangedInputs(ctx context.Context, ks *kustomizev1.Kustomization, src sourceArtifact) bool {
	last, ok := r.lastInputs(ks)
	if !ok || last.generation != ks.Generation || ks.Status.LastAppliedRevision == "" ||
		ks.Status.LastAppliedRevision == src.artifact.Revision {
		return false
	}
	vars, err := r.varsDigest(ctx, ks)
	if err != nil || vars != last.vars {
		return false
	}
	root, release, err := r.acquire(ctx, src)
	if err != nil {
		return false
	}
	defer release()
	digest, err := last.inputs.Digest(root)
	return err == nil && digest == last.digest
}
