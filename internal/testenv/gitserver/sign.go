package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

// PGPKey is a generated OpenPGP key pair for signing commits and tags.
type PGPKey struct {
	// Entity signs; it holds the private key.
	Entity *openpgp.Entity
	// PublicArmored is the ASCII-armored public key, as a user would put it
	// in a verification Secret.
	PublicArmored []byte
}

// NewPGPKey generates an OpenPGP key pair for name.
func (r *Root) NewPGPKey(name string) *PGPKey {
	r.t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@weir.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		r.t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		r.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		r.t.Fatal(err)
	}
	return &PGPKey{Entity: e, PublicArmored: buf.Bytes()}
}

// SignHead replaces the tip commit of branch with an identical commit signed
// by key and returns the new commit's hash.
func (p *Repo) SignHead(branch string, key *PGPKey) string {
	t := p.root.t
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	repo, err := gogit.PlainOpen(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	refName := plumbing.NewBranchReferenceName(branch)
	ref, err := repo.Reference(refName, true)
	if err != nil {
		t.Fatalf("sign %s: %v", branch, err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	unsigned := &plumbing.MemoryObject{}
	c.PGPSignature = ""
	if err := c.EncodeWithoutSignature(unsigned); err != nil {
		t.Fatal(err)
	}
	rd, err := unsigned.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, key.Entity, rd, nil); err != nil {
		t.Fatal(err)
	}
	c.PGPSignature = sig.String()
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(refName, h)); err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// SignedTag creates the annotated tag name on rev, signed by key.
func (p *Repo) SignedTag(name, rev, message string, key *PGPKey) {
	t := p.root.t
	t.Helper()
	hash := p.Rev(rev)
	p.mu.Lock()
	defer p.mu.Unlock()
	repo, err := gogit.PlainOpen(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = repo.DeleteTag(name)
	_, err = repo.CreateTag(name, plumbing.NewHash(hash), &gogit.CreateTagOptions{
		Tagger:  &object.Signature{Name: "weir test", Email: "test@weir.invalid", When: time.Now()},
		Message: message,
		SignKey: key.Entity,
	})
	if err != nil {
		t.Fatalf("tag %s: %v", name, err)
	}
}

// SSHSigningKey is a generated ed25519 key that signs commits and tags in
// git's SSH format (gpg.format=ssh), through the git CLI and ssh-keygen.
type SSHSigningKey struct {
	// AuthorizedKey is the public key in authorized_keys format, as a user
	// would put it in a verification Secret under a key ending in .sshpub.
	AuthorizedKey []byte
	// Fingerprint is the public key's SHA256 fingerprint ("SHA256:…").
	Fingerprint string

	path string // the private key file, git's user.signingkey
}

// NewSSHSigningKey generates an SSH signing key called name.
func (r *Root) NewSSHSigningKey(name string) *SSHSigningKey {
	r.t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		r.t.Fatal("ssh-keygen not found: install openssh-client (git signs with it)")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		r.t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		r.t.Fatal(err)
	}
	path := filepath.Join(r.t.TempDir(), "signing-key")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		r.t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		r.t.Fatal(err)
	}
	line := bytes.TrimSpace(ssh.MarshalAuthorizedKey(sshPub))
	return &SSHSigningKey{
		AuthorizedKey: append(append(line, ' '), name+"\n"...),
		Fingerprint:   ssh.FingerprintSHA256(sshPub),
		path:          path,
	}
}

// signingConfig is the git configuration that signs with key.
func (k *SSHSigningKey) signingConfig() []string {
	return []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + k.path}
}

// SSHSignHead replaces the tip commit of branch with the same commit signed
// by key, pushes it and returns its hash.
func (p *Repo) SSHSignHead(branch string, key *SSHSigningKey) string {
	p.root.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	r, w := p.root, p.work
	p.checkout(branch)
	r.git(w, append(key.signingConfig(), "commit", "-q", "--amend", "--no-edit", "-S")...)
	r.git(w, "push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	return r.git(w, "rev-parse", "HEAD")
}

// SSHSignedTag creates or moves the annotated tag name to rev, signed by key.
func (p *Repo) SSHSignedTag(name, rev, message string, key *SSHSigningKey) {
	p.root.t.Helper()
	p.root.git(p.Dir, append(key.signingConfig(), "tag", "-f", "-s", "-m", message, name, rev)...)
}
