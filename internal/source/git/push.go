package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// ErrNothingToCommit means the working tree has no change to commit.
var ErrNothingToCommit = errors.New("nothing to commit")

// Signature names the author of a commit.
type Signature struct {
	Name, Email string
	When        time.Time
}

// Signer signs commits with an OpenPGP key (PGP) or an SSH key (SSH, git's "ssh" format);
// the zero value does not sign.
type Signer struct {
	PGP *openpgp.Entity
	SSH ssh.Signer
}

// sshCommitSigner signs a commit as `git commit -S` with gpg.format=ssh does: an armored
// SSH signature in git's namespace.
type sshCommitSigner struct{ key ssh.Signer }

func (s sshCommitSigner) Sign(message io.Reader) ([]byte, error) {
	sig, err := sshsig.Sign(message, s.key, sshsig.HashSHA512, sshSignatureNamespace)
	if err != nil {
		return nil, err
	}
	return sshsig.Armor(sig), nil
}

// ParseSSHSigningKey reads an OpenSSH private key, unlocked with passphrase when it is
// encrypted.
func ParseSSHSigningKey(pemKey, passphrase []byte) (ssh.Signer, error) {
	if len(passphrase) > 0 {
		return ssh.ParsePrivateKeyWithPassphrase(pemKey, passphrase)
	}
	return ssh.ParsePrivateKey(pemKey)
}

// Commit stages every change of the working tree (new, changed and deleted files) and commits
// it on top of the checked-out commit, signed by signer. It returns the new commit's hash, or
// ErrNothingToCommit.
func (c *Checkout) Commit(message string, author Signature, signer Signer) (string, error) {
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
	opts := &gogit.CommitOptions{Author: sig, Committer: sig, SignKey: signer.PGP}
	if signer.SSH != nil {
		opts.Signer = sshCommitSigner{key: signer.SSH}
	}
	h, err := wt.Commit(message, opts)
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
