package source

import (
	"context"
	"fmt"
	"sort"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

// verify checks the OpenPGP or SSH signatures spec.verify asks for and records SourceVerified.
// A bad or missing signature fails the reconcile, so no artifact is stored for the commit.
func (r *GitRepositoryReconciler) verify(ctx context.Context, obj *sourcev1.GitRepository, commit git.CommitInfo) error {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if obj.Spec.Verification == nil {
		conds.Delete(compat.SourceVerifiedCondition)
		obj.Status.SourceVerificationMode = nil
		return nil
	}
	mode := verifyMode(obj.Spec.Verification.Mode)
	s, err := r.secret(ctx, obj.Namespace, obj.Spec.Verification.SecretRef.Name)
	if err != nil {
		err = fmt.Errorf("failed to get verification keys: %w", err)
		conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
		return reconcile.Failed(compat.VerificationErrorReason, err)
	}
	keys, err := trustedKeys(s)
	if err != nil {
		conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
		return reconcile.Failed(compat.VerificationErrorReason, err)
	}
	res, err := commit.Verify(git.VerifyMode(mode), keys)
	if err != nil {
		err = fmt.Errorf("signature verification of revision '%s' failed: %w", commit.Revision.String(), err)
		conds.False(compat.SourceVerifiedCondition, compat.VerificationErrorReason, err.Error())
		return reconcile.Failed(compat.VerificationErrorReason, err)
	}
	var parts []string
	if res.CommitKey != "" {
		parts = append(parts, fmt.Sprintf("commit '%s' with key '%s'", commit.Revision.Hash, res.CommitKey))
	}
	if res.TagKey != "" {
		parts = append(parts, fmt.Sprintf("tag '%s' with key '%s'", commit.Revision.Name, res.TagKey))
	}
	conds.True(compat.SourceVerifiedCondition, compat.SucceededReason, "verified signature of "+strings.Join(parts, " and "))
	m := sourcev1.GitVerificationMode(mode)
	obj.Status.SourceVerificationMode = &m
	return nil
}

// verifyMode normalises spec.verify.mode: empty and the legacy "head" mean HEAD.
func verifyMode(m sourcev1.GitVerificationMode) string {
	switch strings.ToLower(string(m)) {
	case "", "head":
		return "HEAD"
	case "tag":
		return "Tag"
	case "tagandhead":
		return "TagAndHEAD"
	}
	return string(m)
}

// trustedKeys reads a verification Secret as Flux does: values of keys ending in .sshpub are SSH
// public keys in authorized_keys format, every other value is an armored OpenPGP key ring. The
// error names the Secret's key that cannot be read.
func trustedKeys(s *corev1.Secret) (git.TrustedKeys, error) {
	var keys git.TrustedKeys
	names := make([]string, 0, len(s.Data))
	for k := range s.Data {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".sshpub") {
			keys.PGP = append(keys.PGP, s.Data[name])
			continue
		}
		parsed, err := git.ParseAuthorizedKeys(s.Data[name])
		if err != nil {
			return keys, fmt.Errorf("invalid SSH public keys in '%s' of secret '%s/%s': %w", name, s.Namespace, s.Name, err)
		}
		keys.SSH = append(keys.SSH, parsed...)
	}
	return keys, nil
}
