package gitserver

import (
	"bytes"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
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
