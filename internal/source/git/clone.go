package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Checkout is a working tree checked out at a resolved revision.
type Checkout struct {
	// Dir is the working tree's directory.
	Dir string
	// CommitInfo describes what was checked out and verifies its signatures.
	CommitInfo

	repo *gogit.Repository
}

// CommitInfo is what a fetch checked out: the revision, the commit's description, and the
// commit and annotated tag objects whose signatures Verify checks. It holds no repository and
// no file, so it stays valid, and can be kept and shared, after the checkout is gone.
type CommitInfo struct {
	// Revision is what was checked out.
	Revision Revision
	// Message, Author and When describe the checked-out commit.
	Message, Author string
	When            time.Time

	commit *object.Commit // decoded from a private copy of its raw bytes
	tag    *object.Tag    // the annotated tag, likewise; nil for other references
}

// storage says where a clone keeps its repository.
type storage int

const (
	onDisk   storage = iota // dir/.git, as git clone does
	inMemory                // go-git's memory storage; dir holds the working tree only
)

// Clone fetches opts.Reference into dir, which must be empty or absent, and
// checks it out. Branches, tags and refs are fetched shallowly (depth 1); a
// Commit needs history, so its branch (or every branch and tag when no
// branch is given) is fetched in full. The revision reported is the one
// actually fetched, which may be newer than an earlier LatestRevision.
//
// The repository is kept on disk in dir/.git, so that the Checkout can Commit
// and Push; FetchTree is the cheaper choice for reading the tree.
func Clone(ctx context.Context, dir string, opts Options) (*Checkout, error) {
	return cloneInto(ctx, dir, opts, onDisk)
}

// FetchTree fetches and checks out as Clone does, but keeps the repository in
// memory and writes only the working tree's files into dir: no .git directory
// is made, which saves initialising and writing a repository on disk. The
// Checkout verifies signatures; it is not meant to Commit or Push. Memory use
// grows with the fetched objects (one commit's tree when shallow).
//
// With RecurseSubmodules the repository stays on disk, as with Clone: go-git
// checks submodules out from memory too, but then writes no ".git" file
// ("gitdir: …") into each submodule's directory, and that file is part of the
// artifacts weir and Flux have always made (the ".git/" exclusion matches
// directories only). Keeping it keeps those artifacts' digests.
func FetchTree(ctx context.Context, dir string, opts Options) (*Checkout, error) {
	if opts.RecurseSubmodules {
		return cloneInto(ctx, dir, opts, onDisk)
	}
	return cloneInto(ctx, dir, opts, inMemory)
}

func cloneInto(ctx context.Context, dir string, opts Options, where storage) (*Checkout, error) {
	u, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	ref := opts.Reference
	if err := ref.validate(); err != nil {
		return nil, err
	}
	tr, err := transportFor(u, opts.Auth)
	if err != nil {
		return nil, err
	}
	co, err := clone(ctx, dir, u, opts, ref, tr, where)
	if err != nil {
		return nil, scrub(fmt.Errorf("clone %s %s: %w", RedactURL(opts.URL), ref, err), append(opts.Auth.secrets(), urlSecrets(opts.URL)...)...)
	}
	return co, nil
}

func clone(ctx context.Context, dir string, u *url.URL, opts Options, ref Reference, tr transportOptions, where storage) (*Checkout, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("directory %s is not empty", dir)
	}
	var (
		refspecs []config.RefSpec
		target   string // local reference holding the wanted commit
		rev      Revision
		depth    = 1
	)
	switch ref.kind() {
	case kindCommit:
		depth = 0
		rev = commitRevision(ref)
		if ref.Branch != "" {
			refspecs = []config.RefSpec{config.RefSpec("+" + rev.Ref + ":" + rev.Ref)}
		} else {
			refspecs = []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
		}
	case kindSemVer:
		// The tag must be chosen from a listing before it can be fetched.
		refs, err := listRefs(ctx, opts.URL, tr)
		if err != nil {
			return nil, err
		}
		if rev, err = resolve(ref, refs); err != nil {
			return nil, err
		}
	default:
		rev = revisionNames(ref)
	}
	if refspecs == nil {
		target = rev.Ref
		refspecs = []config.RefSpec{config.RefSpec("+" + rev.Ref + ":" + rev.Ref)}
	}

	repo, err := initRepository(dir, where)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{opts.URL}})
	if err != nil {
		return nil, fmt.Errorf("add remote: %w", err)
	}
	err = remote.FetchContext(ctx, &gogit.FetchOptions{
		RefSpecs:     refspecs,
		Depth:        depth,
		Tags:         gogit.NoTags,
		Auth:         tr.auth,
		CABundle:     tr.caBundle,
		ClientCert:   tr.clientCert,
		ClientKey:    tr.clientKey,
		ProxyOptions: tr.proxy,
	})
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetch: %w", classify(err))
	}

	co := &Checkout{Dir: dir, repo: repo}
	var commitHash plumbing.Hash
	if target != "" {
		local, err := repo.Reference(plumbing.ReferenceName(target), true)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrReferenceNotFound, target)
		}
		commitHash = local.Hash()
		if tag, err := repo.TagObject(commitHash); err == nil {
			c, err := tag.Commit()
			if err != nil {
				return nil, fmt.Errorf("peel tag %s: %w", rev.Name, err)
			}
			if co.tag, err = detachedTag(repo, tag.Hash); err != nil {
				return nil, fmt.Errorf("read tag %s: %w", rev.Name, err)
			}
			commitHash = c.Hash
		}
		rev.Hash = commitHash.String()
	} else {
		commitHash = plumbing.NewHash(rev.Hash)
	}
	c, err := detachedCommit(repo, commitHash)
	if err != nil {
		return nil, fmt.Errorf("%w: commit %s: %w", ErrReferenceNotFound, commitHash, err)
	}
	co.commit = c
	co.Revision, co.Message, co.Author, co.When = rev, c.Message, c.Author.String(), c.Author.When

	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("worktree: %w", err)
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Hash: commitHash, Force: true, SparseCheckoutDirectories: opts.SparseCheckout}); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", commitHash, err)
	}
	if opts.RecurseSubmodules {
		if err := updateSubmodules(ctx, wt, u, opts.Auth, maxSubmoduleDepth); err != nil {
			return nil, err
		}
	}
	return co, nil
}

// revisionNames fills in the name and full reference for a branch, tag or
// ref-name Reference; the hash comes from the fetch.
func revisionNames(ref Reference) Revision {
	switch ref.kind() {
	case kindName:
		return Revision{Name: ref.Name, Ref: ref.Name}
	case kindTag:
		return Revision{Name: ref.Tag, Ref: "refs/tags/" + ref.Tag}
	default:
		return Revision{Name: ref.branch(), Ref: "refs/heads/" + ref.branch()}
	}
}

// maxSubmoduleDepth bounds the nesting of submodules, as git's default recursion does.
const maxSubmoduleDepth = int(gogit.DefaultSubmoduleRecursionDepth)

// updateSubmodules checks out the submodules of wt, whose repository was fetched from parent,
// and theirs in turn, depth levels deep. Every fetch uses the parent's CA bundle, client
// certificate and proxy; its credentials go only to submodules on the parent's host.
func updateSubmodules(ctx context.Context, wt *gogit.Worktree, parent *url.URL, a Auth, depth int) error {
	if depth <= 0 {
		return nil
	}
	subs, err := wt.Submodules()
	if err != nil {
		return fmt.Errorf("list submodules: %w", err)
	}
	for _, sub := range subs {
		if err := updateSubmodule(ctx, sub, parent, a, depth); err != nil {
			return fmt.Errorf("submodule '%s': %w", sub.Config().Path, err)
		}
	}
	return nil
}

func updateSubmodule(ctx context.Context, sub *gogit.Submodule, parent *url.URL, a Auth, depth int) error {
	if err := sub.Init(); err != nil && !errors.Is(err, gogit.ErrSubmoduleAlreadyInitialized) {
		return fmt.Errorf("init: %w", err)
	}
	status, err := sub.Status()
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	want := status.Expected
	if want.IsZero() {
		return fmt.Errorf("%w: no commit recorded", ErrReferenceNotFound)
	}
	repo, err := sub.Repository() // relative URLs are resolved against the parent's
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	remote, err := repo.Remote(gogit.DefaultRemoteName)
	if err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	u, err := ParseURL(remote.Config().URLs[0])
	if err != nil {
		return err
	}
	if !strings.EqualFold(u.Hostname(), parent.Hostname()) {
		a = a.withoutCredentials()
	}
	tr, err := transportFor(u, a)
	if err != nil {
		return err
	}
	fetch := func(refspecs []config.RefSpec, depth int) error {
		err := remote.FetchContext(ctx, &gogit.FetchOptions{
			RefSpecs: refspecs, Depth: depth, Tags: gogit.NoTags, Auth: tr.auth, CABundle: tr.caBundle,
			ClientCert: tr.clientCert, ClientKey: tr.clientKey, ProxyOptions: tr.proxy,
		})
		if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return err
		}
		return nil
	}
	// The recorded commit alone, when the server lets a client ask for it; else every
	// branch, in which it must be.
	if err := fetch([]config.RefSpec{config.RefSpec("+" + want.String() + ":" + want.String())}, 1); err != nil {
		if err := fetch([]config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}, 0); err != nil {
			return fmt.Errorf("fetch %s: %w", RedactURL(u.String()), classify(err))
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("worktree: %w", err)
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Hash: want, Force: true}); err != nil {
		return fmt.Errorf("%w: checkout %s: %w", ErrReferenceNotFound, want, err)
	}
	return updateSubmodules(ctx, wt, u, a, depth-1)
}

// initRepository makes the empty repository a clone fetches into: on disk in dir/.git, or in
// memory with dir as its working tree.
func initRepository(dir string, where storage) (*gogit.Repository, error) {
	if where == onDisk {
		return gogit.PlainInit(dir, false)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return gogit.Init(memory.NewStorage(), osfs.New(dir))
}

// detachedCommit decodes the commit h from a copy of its raw bytes, so that it neither reads
// from nor keeps the repository: its signature verifies over the exact bytes that were signed.
func detachedCommit(repo *gogit.Repository, h plumbing.Hash) (*object.Commit, error) {
	o, err := copyObject(repo, plumbing.CommitObject, h)
	if err != nil {
		return nil, err
	}
	return object.DecodeCommit(nil, o)
}

// detachedTag is detachedCommit for an annotated tag.
func detachedTag(repo *gogit.Repository, h plumbing.Hash) (*object.Tag, error) {
	o, err := copyObject(repo, plumbing.TagObject, h)
	if err != nil {
		return nil, err
	}
	return object.DecodeTag(nil, o)
}

func copyObject(repo *gogit.Repository, t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	src, err := repo.Storer.EncodedObject(t, h)
	if err != nil {
		return nil, err
	}
	r, err := src.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	o := &plumbing.MemoryObject{}
	o.SetType(t)
	if _, err := io.Copy(o, r); err != nil {
		return nil, err
	}
	return o, nil
}
