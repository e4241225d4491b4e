package git

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// VerifyMode says which signatures must verify, as in GitRepository
// spec.verify.mode.
type VerifyMode string

const (
	// VerifyHEAD verifies the checked-out commit.
	VerifyHEAD VerifyMode = "HEAD"
	// VerifyTag verifies the annotated tag that was checked out.
	VerifyTag VerifyMode = "Tag"
	// VerifyTagAndHEAD verifies both.
	VerifyTagAndHEAD VerifyMode = "TagAndHEAD"
)

// Verification names the keys whose signatures verified.
type Verification struct {
	// CommitKey is the hex key ID that signed the commit, when verified.
	CommitKey string
	// TagKey is the hex key ID that signed the tag, when verified.
	TagKey string
}

// Verify checks the checkout's signatures against the armored OpenPGP public
// keys (one key ring per element; a signature verifies if any accepts it).
// The legacy mode "head" means HEAD; an empty mode means HEAD. Failures wrap
// ErrVerification.
func (c *Checkout) Verify(mode VerifyMode, keyRings [][]byte) (Verification, error) {
	var v Verification
	if strings.EqualFold(string(mode), "head") || mode == "" {
		mode = VerifyHEAD
	}
	if mode != VerifyHEAD && mode != VerifyTag && mode != VerifyTagAndHEAD {
		return v, fmt.Errorf("%w: unknown mode %q", ErrVerification, mode)
	}
	if len(keyRings) == 0 {
		return v, fmt.Errorf("%w: no public keys given", ErrVerification)
	}
	if mode == VerifyTag || mode == VerifyTagAndHEAD {
		if !c.Revision.IsTag() {
			return v, fmt.Errorf("%w: mode %s needs a tag reference", ErrVerification, mode)
		}
		if c.tagHash.IsZero() {
			return v, fmt.Errorf("%w: tag '%s' is not an annotated tag and has no signature", ErrVerification, c.Revision.Name)
		}
		tag, err := c.repo.TagObject(c.tagHash)
		if err != nil {
			return v, fmt.Errorf("read tag '%s': %w", c.Revision.Name, err)
		}
		if tag.PGPSignature == "" {
			return v, fmt.Errorf("%w: tag '%s' is not signed", ErrVerification, c.Revision.Name)
		}
		key, err := verifyAny(keyRings, tag.Verify)
		if err != nil {
			return v, fmt.Errorf("%w: tag '%s': %w", ErrVerification, c.Revision.Name, err)
		}
		v.TagKey = key
	}
	if mode == VerifyHEAD || mode == VerifyTagAndHEAD {
		commit, err := c.commitObject()
		if err != nil {
			return v, fmt.Errorf("read commit %s: %w", c.Revision.Hash, err)
		}
		if commit.PGPSignature == "" {
			return v, fmt.Errorf("%w: commit %s is not signed", ErrVerification, c.Revision.Hash)
		}
		key, err := verifyAny(keyRings, commit.Verify)
		if err != nil {
			return v, fmt.Errorf("%w: commit %s: %w", ErrVerification, c.Revision.Hash, err)
		}
		v.CommitKey = key
	}
	return v, nil
}

func verifyAny(keyRings [][]byte, verify func(string) (*openpgp.Entity, error)) (string, error) {
	var errs []error
	for _, kr := range keyRings {
		e, err := verify(string(kr))
		if err == nil {
			return fmt.Sprintf("%X", e.PrimaryKey.KeyId), nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no trusted key verified the signature: %w", errors.Join(errs...))
}
