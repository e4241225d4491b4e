package git

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNothingToCommit means the working tree has no change to commit.
var ErrNothingToCommit = errors.New("nothing to commit")

// Signature names the author of a commit.
type Signature struct {
	Name, Email string
	When        time.Time
}

// Commit stages every change of the working tree (new, changed and deleted files) and commits
// it on top of the checked-out commit, signed with signer when it is not nil. It returns the
// new commit's hash, or ErrNothingToCommit.
func (c *Checkout) Commit(message string, author Signature, signer *openpgp.Entity) (string, error) {
	wt, err := c.repo.Worktree()
	if err != nil {
		return "", fmt.Errorf("worktree: %w", err)
	}
	status, err := wt.Status()
	if err != nil {
		return "", fmt.Errorf("status: %w", err)
	}
	if status.IsClean() {
		return "", ErrNothingToCommit
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("add: %w", err)
	}
	sig := &object.Signature{Name: author.Name, Email: author.Email, When: author.When}
	h, err := wt.Commit(message, &gogit.CommitOptions{Author: sig, Committer: sig, SignKey: signer})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	return h.String(), nil
}

// Push pushes commit to each of refs: full reference names such as "refs/heads/main", or
// refspecs "<src>:<dst>" whose destination is taken (the source is always commit). It never
// forces: a remote that moved meanwhile rejects the push. options are Git push options.
func (c *Checkout) Push(ctx context.Context, opts Options, commit string, refs []string, options map[string]string) error {
	u, err := ParseURL(opts.URL)
	if err != nil {
		return err
	}
	tr, err := transportFor(u, opts.Auth)
	if err != nil {
		return err
	}
	// go-git pushes what a local reference names: one points at the commit for each
	// destination, whatever source a refspec names.
	specs := make([]config.RefSpec, 0, len(refs))
	for i, r := range refs {
		dst := r
		if _, d, ok := strings.Cut(r, ":"); ok {
			dst = d
		}
		if !strings.HasPrefix(dst, "refs/") {
			return fmt.Errorf("invalid push destination '%s': use a full reference name such as refs/heads/<branch>", r)
		}
		local := plumbing.ReferenceName(fmt.Sprintf("refs/weir/push/%d", i))
		if err := c.repo.Storer.SetReference(plumbing.NewHashReference(local, plumbing.NewHash(commit))); err != nil {
			return fmt.Errorf("set reference: %w", err)
		}
		spec := config.RefSpec(local.String() + ":" + dst)
		if err := spec.Validate(); err != nil {
			return fmt.Errorf("invalid refspec '%s': %w", r, err)
		}
		specs = append(specs, spec)
	}
	err = c.repo.PushContext(ctx, &gogit.PushOptions{
		RemoteName:   "origin",
		RefSpecs:     specs,
		Auth:         tr.auth,
		CABundle:     tr.caBundle,
		ClientCert:   tr.clientCert,
		ClientKey:    tr.clientKey,
		ProxyOptions: tr.proxy,
		Options:      options,
	})
	if errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	if err != nil {
		return scrub(fmt.Errorf("push to %s: %w", RedactURL(opts.URL), classify(err)), append(opts.Auth.secrets(), urlSecrets(opts.URL)...)...)
	}
	return nil
}
