package source

import (
	"context"
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/oci"
)

// verifyIfNeeded checks the artifact's signature when spec.verify asks for it and the revision
// changed (changed), or SourceVerified is not yet True for this generation.
func (r *OCIRepositoryReconciler) verifyIfNeeded(ctx context.Context, obj *sourcev1.OCIRepository, res oci.Resolved, opts oci.Options, changed bool) error {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if obj.Spec.Verify == nil {
		conds.Delete(compat.SourceVerifiedCondition)
		return nil
	}
	if c := conds.Get(compat.SourceVerifiedCondition); !changed && c != nil && c.Status == "True" && c.ObservedGeneration == obj.Generation {
		return nil
	}
	return r.verify(ctx, obj, res, opts)
}

// verify is where signature checks go; weir does not verify OCI signatures yet, so an
// OCIRepository that asks for verification is refused rather than trusted unverified.
func (r *OCIRepositoryReconciler) verify(_ context.Context, obj *sourcev1.OCIRepository, _ oci.Resolved, _ oci.Options) error {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	err := fmt.Errorf("failed to verify the signature using provider '%s': weir does not verify OCI signatures yet", obj.Spec.Verify.Provider)
	conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
	return reconcile.Stalled(compat.VerificationErrorReason, err)
}
