package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/weirgitops/weir/internal/redact"
)

// Checkout is a working clone of the bootstrap repository on one branch.
type Checkout struct {
	dir    string
	repo   *gogit.Repository
	auth   transport.AuthMethod
	branch string
	ca     []byte
	// insecure allows credentials over plain HTTP.
	insecure bool
}

// Clone clones url into dir and checks branch out: the remote branch when it exists, else a new
// branch from the default branch (or an orphan one in an empty repository).
func Clone(ctx context.Context, dir, url string, auth transport.AuthMethod, branch string, ca []byte, insecure bool) (*Checkout, error) {
	c := &Checkout{dir: dir, auth: auth, branch: branch, ca: ca, insecure: insecure}
	r, err := gogit.PlainCloneContext(ctx, dir, false, &gogit.CloneOptions{URL: url, Auth: auth, CABundle: ca, InsecureSkipTLS: false})
	switch {
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		if r, err = gogit.PlainInit(dir, false); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
		if _, err := r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
			return nil, fmt.Errorf("add remote: %w", err)
		}
		c.repo = r
		if err := r.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(branch))); err != nil {
			return nil, fmt.Errorf("set HEAD to %s: %w", branch, err)
		}
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("clone %s: %w", redact.Text(url), err)
	}
	c.repo = r
	wt, err := r.Worktree()
	if err != nil {
		return nil, err
	}
	local := plumbing.NewBranchReferenceName(branch)
	if ref, err := r.Reference(plumbing.NewRemoteReferenceName("origin", branch), true); err == nil {
		opts := &gogit.CheckoutOptions{Branch: local, Force: true}
		if !hasRef(r, local) {
			opts.Hash, opts.Create = ref.Hash(), true
		}
		if err := wt.Checkout(opts); err != nil {
			return nil, fmt.Errorf("check out %s: %w", branch, err)
		}
		return c, nil
	}
	head, err := r.Head()
	if err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Branch: local, Hash: head.Hash(), Create: true}); err != nil {
		return nil, fmt.Errorf("create branch %s: %w", branch, err)
	}
	return c, nil
}

func hasRef(r *gogit.Repository, name plumbing.ReferenceName) bool {
	_, err := r.Reference(name, false)
	return err == nil
}

// Write writes files (paths relative to the repository root, slash-separated) into the
// working tree; a path leaving the tree is refused.
func (c *Checkout) Write(files map[string][]byte) error {
	for name, data := range files {
		p := filepath.Join(c.dir, filepath.FromSlash(name))
		if rel, err := filepath.Rel(c.dir, p); err != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator) {
			return fmt.Errorf("path %q leaves the repository", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Commit commits the written files when they changed anything, and reports whether it did.
func (c *Checkout) Commit(files map[string][]byte, message, name, email string) (bool, error) {
	wt, err := c.repo.Worktree()
	if err != nil {
		return false, err
	}
	for p := range files {
		if _, err := wt.Add(p); err != nil {
			return false, fmt.Errorf("stage %s: %w", p, err)
		}
	}
	st, err := wt.Status()
	if err != nil {
		return false, err
	}
	changed := false
	for p := range files {
		if s := st.File(p); s.Staging != gogit.Unmodified && s.Staging != gogit.Untracked {
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	if _, err := wt.Commit(message, &gogit.CommitOptions{Author: &object.Signature{Name: name, Email: email, When: time.Now()}}); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// Push pushes the branch.
func (c *Checkout) Push(ctx context.Context) error {
	ref := plumbing.NewBranchReferenceName(c.branch)
	err := c.repo.PushContext(ctx, &gogit.PushOptions{RemoteName: "origin", Auth: c.auth, CABundle: c.ca,
		RefSpecs: []config.RefSpec{config.RefSpec(ref + ":" + ref)}})
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return fmt.Errorf("push %s: %w", c.branch, err)
	}
	return nil
}

// Head returns the hash of the branch's tip, "" before the first commit.
func (c *Checkout) Head() string {
	ref, err := c.repo.Reference(plumbing.NewBranchReferenceName(c.branch), true)
	if err != nil {
		return ""
	}
	return ref.Hash().String()
}
