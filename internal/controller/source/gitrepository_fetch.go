package source

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/git"
)

// gitFetchKey names the artifact a GitRepository's fetch of rev makes, for sharing it: the URL,
// the revision (reference name and commit), the credentials and transport settings (Auth's
// fingerprint and the provider), and every content setting (ignore rules, submodules, sparse
// checkout, the includes with their artifacts' digests, the verification mode). GitRepositories
// whose keys are equal would store byte-equal artifacts; different credentials never share,
// whatever the namespace. The key is a digest: no credential is kept in it.
func gitFetchKey(obj *sourcev1.GitRepository, rev git.Revision, auth git.Auth, included []*meta.Artifact) string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("GitRepository/v1")
	field(obj.Spec.URL)
	field(rev.String())
	field(auth.Fingerprint())
	field(obj.Spec.Provider)
	field(ignoreKey(obj.Spec.Ignore))
	field(strconv.FormatBool(obj.Spec.RecurseSubmodules))
	field(strconv.Itoa(len(obj.Spec.SparseCheckout)))
	for _, d := range obj.Spec.SparseCheckout {
		field(d)
	}
	field(strconv.Itoa(len(obj.Spec.Include)))
	for i, inc := range obj.Spec.Include {
		field(inc.GitRepositoryRef.Name)
		field(inc.FromPath)
		field(inc.ToPath)
		field(included[i].Digest)
	}
	if v := obj.Spec.Verification; v != nil {
		field("verify:" + verifyMode(v.Mode))
	} else {
		field("")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// storeRevision stores obj's artifact of rev, fetching the repository once for every
// GitRepository with the same gitFetchKey: the first one fetches (fetchCtx bounds the fetch)
// and archives, the others copy its artifact. accept runs for each GitRepository before its
// artifact is stored, on the fetched commit: it verifies the signatures with that
// GitRepository's own keys, so a commit that does not verify is stored for nobody who checks it.
func (r *GitRepositoryReconciler) storeRevision(ctx, fetchCtx context.Context, obj *sourcev1.GitRepository, opts git.Options,
	rev git.Revision, included []*meta.Artifact, accept func(git.CommitInfo) error) (git.CommitInfo, artifact.Record, error) {
	self := storeObject(sourcev1.GitRepositoryKind, obj)
	key := gitFetchKey(obj, rev, opts.Auth, included)
	e, err := r.fetches.share(fetchCtx, r.Store, self, key, rev.Hash+".tar.gz", rev.String(),
		func() (fetchEntry[git.CommitInfo], error) {
			info, rec, err := r.build(ctx, fetchCtx, obj, opts, included, accept)
			return fetchEntry[git.CommitInfo]{rec: rec, data: info}, err
		},
		func(info git.CommitInfo) (bool, error) {
			// A fetch that found the reference moved on since its listing stored another
			// revision than the key names: not one to copy.
			if info.Revision.String() != rev.String() {
				return false, nil
			}
			return true, accept(info)
		})
	return e.data, e.rec, err
}

// build fetches the tree of opts.Reference into a temporary directory, has accept check the
// commit, copies the included artifacts in, and archives the tree with the ignore rules.
func (r *GitRepositoryReconciler) build(ctx, fetchCtx context.Context, obj *sourcev1.GitRepository, opts git.Options,
	included []*meta.Artifact, accept func(git.CommitInfo) error) (git.CommitInfo, artifact.Record, error) {
	tmp, err := os.MkdirTemp(r.TempDir, "gitrepository-")
	if err != nil {
		return git.CommitInfo{}, artifact.Record{}, reconcile.Failed(compat.StorageOperationFailedReason, fmt.Errorf("create temporary directory: %w", err))
	}
	defer os.RemoveAll(tmp)
	checkout, err := git.FetchTree(fetchCtx, tmp, opts)
	if err != nil {
		return git.CommitInfo{}, artifact.Record{}, fetchError(err)
	}
	info := checkout.CommitInfo
	if err := accept(info); err != nil {
		return info, artifact.Record{}, err
	}
	for i, inc := range obj.Spec.Include {
		toPath := inc.ToPath
		if toPath == "" {
			toPath = inc.GitRepositoryRef.Name
		}
		if err := r.Store.CopyInto(ctx, recordOf(included[i]), inc.FromPath, checkout.Dir, toPath, artifact.Limits{}); err != nil {
			return info, artifact.Record{}, reconcile.Failed(compat.IncludeUnavailableReason,
				fmt.Errorf("copy included artifact of GitRepository '%s' to '%s': %w", inc.GitRepositoryRef.Name, toPath, err))
		}
	}
	filter, err := git.NewFilter(checkout.Dir, obj.Spec.Ignore)
	if err != nil {
		return info, artifact.Record{}, reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("read ignore rules: %w", err))
	}
	revision := info.Revision.String()
	rec, err := r.Store.Archive(ctx, storeObject(sourcev1.GitRepositoryKind, obj), info.Revision.Hash+".tar.gz", revision, checkout.Dir, filter.Excluded)
	if err != nil {
		if errors.Is(err, artifact.ErrTooLarge) {
			return info, rec, reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("repository at revision '%s' is too large: %w", revision, err))
		}
		return info, rec, reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("archive revision '%s': %w", revision, err))
	}
	return info, rec, nil
}
