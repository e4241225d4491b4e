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

// varsRead are a Kustomization's post-build variables and their digest, read from the API
// server once per reconcile however many steps need them.
type varsRead struct {
	done bool
	// values are the variables; valuesErr the failure to read them (a substituteFrom object
	// missing or unreadable).
	values    build.Vars
	valuesErr error
	// digest hashes the resolved variables and the decryption Secret's version, so that a
	// change to either forces a rebuild; "" when either could not be read.
	digest string
}

// readVars fills v on its first use in a reconcile.
func (r *Reconciler) readVars(ctx context.Context, ks *kustomizev1.Kustomization, v *varsRead) *varsRead {
	if v.done {
		return v
	}
	v.done = true
	h := sha256.New()
	if ks.Spec.PostBuild != nil {
		if v.values, v.valuesErr = r.substitutionVars(ctx, ks); v.valuesErr != nil {
			return v
		}
		resolved, err := v.values.Resolve()
		if err != nil {
			return v
		}
		b, err := json.Marshal(resolved)
		if err != nil {
			return v
		}
		h.Write(b)
	}
	if d := ks.Spec.Decryption; d != nil && d.SecretRef != nil {
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ks.Namespace, Name: d.SecretRef.Name}, &s); err != nil {
			return v
		}
		fmt.Fprintf(h, "\x00%s/%s", s.UID, s.ResourceVersion)
	}
	v.digest = hex.EncodeToString(h.Sum(nil))
	return v
}

// unchangedInputs reports whether the new source revision leaves everything the last
// successful build read byte-identical, with the same spec and variables: then nothing
// needs to be built or applied, only the revision recorded.
func (r *Reconciler) unchangedInputs(ctx context.Context, ks *kustomizev1.Kustomization, src sourceArtifact, vars *varsRead) bool {
	last, ok := r.lastInputs(ks)
	if !ok || last.generation != ks.Generation || ks.Status.LastAppliedRevision == "" ||
		ks.Status.LastAppliedRevision == src.artifact.Revision {
		return false
	}
	if d := r.readVars(ctx, ks, vars).digest; d == "" || d != last.vars {
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
