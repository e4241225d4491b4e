package git

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
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

// sshSignatureNamespace is the namespace git signs commits and tags in
// (ssh-keygen -Y sign -n git); a signature made for another purpose, such
// as a file, does not verify.
const sshSignatureNamespace = "git"

const (
	pgpSignaturePrefix = "-----BEGIN PGP SIGNATURE-----"
	sshSignaturePrefix = "-----BEGIN SSH SIGNATURE-----"
)

// TrustedKeys are the public keys a signature may verify against. A
// signature is checked against the keys of its own format: an OpenPGP
// signature against PGP, an SSH signature against SSH.
type TrustedKeys struct {
	// PGP holds armored OpenPGP public key rings, one per element.
	PGP [][]byte
	// SSH holds SSH public keys (see ParseAuthorizedKeys).
	SSH []ssh.PublicKey
}

func (k TrustedKeys) empty() bool { return len(k.PGP) == 0 && len(k.SSH) == 0 }

// Verification names the keys whose signatures verified: an OpenPGP key ID
// in hex, or an SSH key's SHA256 fingerprint ("SHA256:…").
type Verification struct {
	// CommitKey names the key that signed the commit, when verified.
	CommitKey string
	// TagKey names the key that signed the tag, when verified.
	TagKey string
}

// ParseAuthorizedKeys reads SSH public keys in authorized_keys format: one
// key a line, with optional options and comment; blank lines and lines
// starting with '#' are skipped. The error says which line is wrong and
// never quotes it.
func ParseAuthorizedKeys(data []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d is not an SSH public key in authorized_keys format", i+1)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("no SSH public key found")
	}
	return keys, nil
}

// Verify checks the checkout's signatures, OpenPGP or SSH, against the
// trusted keys. The legacy mode "head" means HEAD; an empty mode means HEAD.
// Failures wrap ErrVerification.
func (c CommitInfo) Verify(mode VerifyMode, keys TrustedKeys) (Verification, error) {
	var v Verification
	if strings.EqualFold(string(mode), "head") || mode == "" {
		mode = VerifyHEAD
	}
	if mode != VerifyHEAD && mode != VerifyTag && mode != VerifyTagAndHEAD {
		return v, fmt.Errorf("%w: unknown mode %q", ErrVerification, mode)
	}
	if keys.empty() {
		return v, fmt.Errorf("%w: no public keys given", ErrVerification)
	}
	if mode == VerifyTag || mode == VerifyTagAndHEAD {
		if !c.Revision.IsTag() {
			return v, fmt.Errorf("%w: mode %s needs a tag reference", ErrVerification, mode)
		}
		tag := c.tag
		if tag == nil {
			return v, fmt.Errorf("%w: tag '%s' is not an annotated tag and has no signature", ErrVerification, c.Revision.Name)
		}
		if tag.PGPSignature == "" {
			return v, fmt.Errorf("%w: tag '%s' is not signed", ErrVerification, c.Revision.Name)
		}
		key, err := verifySignature(tag.PGPSignature, keys, tag.Verify, func() ([]byte, error) {
			return payload(tag.EncodeWithoutSignature)
		})
		if err != nil {
			return v, fmt.Errorf("%w: tag '%s': %w", ErrVerification, c.Revision.Name, err)
		}
		v.TagKey = key
	}
	if mode == VerifyHEAD || mode == VerifyTagAndHEAD {
		commit := c.commit
		if commit == nil {
			return v, fmt.Errorf("%w: commit %s was not fetched", ErrVerification, c.Revision.Hash)
		}
		if commit.PGPSignature == "" {
			return v, fmt.Errorf("%w: commit %s is not signed", ErrVerification, c.Revision.Hash)
		}
		key, err := verifySignature(commit.PGPSignature, keys, commit.Verify, func() ([]byte, error) {
			return payload(commit.EncodeWithoutSignature)
		})
		if err != nil {
			return v, fmt.Errorf("%w: commit %s: %w", ErrVerification, c.Revision.Hash, err)
		}
		v.CommitKey = key
	}
	return v, nil
}

// payload encodes a Git object without its signature: the bytes that were
// signed.
func payload(encode func(plumbing.EncodedObject) error) ([]byte, error) {
	obj := &plumbing.MemoryObject{}
	if err := encode(obj); err != nil {
		return nil, fmt.Errorf("encode signed object: %w", err)
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// verifySignature checks one signature by its format and returns the name
// of the key that verified it.
func verifySignature(signature string, keys TrustedKeys, pgpVerify func(string) (*openpgp.Entity, error), signed func() ([]byte, error)) (string, error) {
	switch s := strings.TrimSpace(signature); {
	case strings.HasPrefix(s, sshSignaturePrefix):
		if len(keys.SSH) == 0 {
			return "", errors.New("signed with an SSH key and no SSH public key (.sshpub) is trusted")
		}
		data, err := signed()
		if err != nil {
			return "", err
		}
		return verifySSH(s, data, keys.SSH)
	case strings.HasPrefix(s, pgpSignaturePrefix):
		if len(keys.PGP) == 0 {
			return "", errors.New("signed with an OpenPGP key and no OpenPGP public key is trusted")
		}
		return verifyPGP(keys.PGP, pgpVerify)
	default:
		return "", errors.New("the signature is neither OpenPGP nor SSH")
	}
}

func verifyPGP(keyRings [][]byte, verify func(string) (*openpgp.Entity, error)) (string, error) {
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

// verifySSH checks an armored SSH signature over data in git's namespace.
func verifySSH(armored string, data []byte, keys []ssh.PublicKey) (string, error) {
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return "", fmt.Errorf("malformed SSH signature: %w", err)
	}
	for _, key := range keys {
		if sshsig.Verify(bytes.NewReader(data), sig, key, sig.HashAlgorithm, sshSignatureNamespace) == nil {
			return ssh.FingerprintSHA256(key), nil
		}
	}
	return "", fmt.Errorf("no trusted key verified the signature made by SSH key %s", ssh.FingerprintSHA256(sig.PublicKey))
}
