package build

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Key entry suffixes in the decryption Secret, as Flux reads them.
const (
	// AgeKeySuffix marks an age identity file entry.
	AgeKeySuffix = ".agekey"
	// PGPKeySuffix marks an armored OpenPGP private key ring entry.
	PGPKeySuffix = ".asc"
)

// ErrNoMatchingKey is returned (wrapped) when none of the imported keys can
// decrypt the SOPS data key.
var ErrNoMatchingKey = errors.New("no matching key")

// maxEncryptedSize bounds the size of an encrypted file or value.
const maxEncryptedSize = 5 << 20

// Decryptor decrypts SOPS-encrypted data with age and OpenPGP keys. It is
// safe for concurrent use once built.
type Decryptor struct {
	ageIdentities []age.Identity
	pgpKeys       openpgp.EntityList
	// VerifyMAC enables the SOPS integrity check (MAC over all values) on
	// decrypted files. Off by default as in Flux: kustomize rewrites objects
	// (namespace, labels, name prefix), which invalidates the MAC.
	VerifyMAC bool
}

// NewDecryptor imports the keys of a decryption Secret's data: entries whose
// name ends in .agekey hold age identities, entries ending in .asc armored
// OpenPGP key rings; other entries (cloud KMS credentials) are ignored. Errors
// name the entry and never include key material.
func NewDecryptor(keys map[string][]byte) (*Decryptor, error) {
	d := &Decryptor{}
	names := make([]string, 0, len(keys))
	for name := range keys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		value := keys[name]
		switch filepath.Ext(name) {
		case AgeKeySuffix:
			ids, err := age.ParseIdentities(bytes.NewReader(value))
			if err != nil {
				return nil, fmt.Errorf("import %q: invalid age identity file", name)
			}
			d.ageIdentities = append(d.ageIdentities, ids...)
		case PGPKeySuffix:
			ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(value))
			if err != nil {
				return nil, fmt.Errorf("import %q: invalid armored OpenPGP key ring", name)
			}
			d.pgpKeys = append(d.pgpKeys, ring...)
		}
	}
	return d, nil
}

// encValue matches a SOPS encrypted value.
var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^,]+),type:([a-z]+)\]$`)

// decryptValue decrypts one ENC[…] value with the data key; aad is the path
// of the value ("a:b:c:"). The error never contains the plaintext.
func decryptValue(value string, key []byte, aad string) (any, error) {
	if value == "" {
		return "", nil
	}
	m := encValue.FindStringSubmatch(value)
	if m == nil {
		return nil, errors.New("value is not in SOPS' encrypted format")
	}
	data, err1 := base64.StdEncoding.DecodeString(m[1])
	iv, err2 := base64.StdEncoding.DecodeString(m[2])
	tag, err3 := base64.StdEncoding.DecodeString(m[3])
	if err := errors.Join(err1, err2, err3); err != nil || len(iv) == 0 {
		return nil, errors.New("malformed encrypted value")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("invalid data key")
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, errors.New("malformed encrypted value")
	}
	plain, err := gcm.Open(nil, iv, append(data, tag...), []byte(aad))
	if err != nil {
		return nil, errors.New("authentication failed (wrong data key or tampered value)")
	}
	switch m[4] {
	case "str", "bytes", "comment":
		return string(plain), nil
	case "int":
		v, err := strconv.ParseInt(string(plain), 10, 64)
		if err != nil {
			return nil, errors.New("decrypted value of type int is not an integer")
		}
		return v, nil
	case "float":
		v, err := strconv.ParseFloat(string(plain), 64)
		if err != nil {
			return nil, errors.New("decrypted value of type float is not a number")
		}
		return v, nil
	case "bool":
		v, err := strconv.ParseBool(string(plain))
		if err != nil {
			return nil, errors.New("decrypted value of type bool is not a boolean")
		}
		return v, nil
	default:
		return nil, fmt.Errorf("unknown value type %q", m[4])
	}
}

// macBytes renders a value as SOPS hashes it for the MAC.
func macBytes(v any) []byte {
	switch v := v.(type) {
	case string:
		return []byte(v)
	case int64:
		return []byte(strconv.FormatInt(v, 10))
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		if v {
			return []byte("True")
		}
		return []byte("False")
	default:
		return []byte(fmt.Sprint(v))
	}
}

type ageEntry struct {
	Recipient string `json:"recipient"`
	Enc       string `json:"enc"`
}

type pgpEntry struct {
	Fingerprint string `json:"fp"`
	Enc         string `json:"enc"`
}

type keyGroup struct {
	Age     []ageEntry        `json:"age"`
	PGP     []pgpEntry        `json:"pgp"`
	KMS     []json.RawMessage `json:"kms"`
	GCPKMS  []json.RawMessage `json:"gcp_kms"`
	AzureKV []json.RawMessage `json:"azure_kv"`
	HCVault []json.RawMessage `json:"hc_vault"`
}

// sopsMetadata is the part of the "sops" section that decryption needs.
type sopsMetadata struct {
	keyGroup
	KeyGroups         []keyGroup `json:"key_groups"`
	ShamirThreshold   any        `json:"shamir_threshold"`
	LastModified      string     `json:"lastmodified"`
	MAC               string     `json:"mac"`
	UnencryptedSuffix string     `json:"unencrypted_suffix"`
	EncryptedSuffix   string     `json:"encrypted_suffix"`
	UnencryptedRegex  string     `json:"unencrypted_regex"`
	EncryptedRegex    string     `json:"encrypted_regex"`
	MACOnlyEncrypted  any        `json:"mac_only_encrypted"`
	Version           string     `json:"version"`

	unencRe, encRe *regexp.Regexp
}

// parseMetadata reads the "sops" section from its generic form.
func parseMetadata(section any) (*sopsMetadata, error) {
	raw, err := json.Marshal(section)
	if err != nil {
		return nil, fmt.Errorf("invalid sops metadata: %w", err)
	}
	md := &sopsMetadata{}
	if err := json.Unmarshal(raw, md); err != nil {
		return nil, fmt.Errorf("invalid sops metadata: %w", err)
	}
	if md.UnencryptedSuffix == "" && md.EncryptedSuffix == "" && md.UnencryptedRegex == "" && md.EncryptedRegex == "" {
		md.UnencryptedSuffix = "_unencrypted"
	}
	if md.UnencryptedRegex != "" {
		if md.unencRe, err = regexp.Compile(md.UnencryptedRegex); err != nil {
			return nil, fmt.Errorf("invalid sops unencrypted_regex: %w", err)
		}
	}
	if md.EncryptedRegex != "" {
		if md.encRe, err = regexp.Compile(md.EncryptedRegex); err != nil {
			return nil, fmt.Errorf("invalid sops encrypted_regex: %w", err)
		}
	}
	return md, nil
}

func (md *sopsMetadata) macOnlyEncrypted() bool {
	switch v := md.MACOnlyEncrypted.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// encrypted reports whether the value at path is encrypted, following the
// suffix and regex rules recorded in the metadata.
func (md *sopsMetadata) encrypted(path []string) bool {
	enc := true
	if md.UnencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, md.UnencryptedSuffix) {
				enc = false
				break
			}
		}
	}
	if md.EncryptedSuffix != "" {
		enc = false
		for _, p := range path {
			if strings.HasSuffix(p, md.EncryptedSuffix) {
				enc = true
				break
			}
		}
	}
	if md.unencRe != nil {
		for _, p := range path {
			if md.unencRe.MatchString(p) {
				enc = false
				break
			}
		}
	}
	if md.encRe != nil {
		enc = false
		for _, p := range path {
			if md.encRe.MatchString(p) {
				enc = true
				break
			}
		}
	}
	return enc
}

// dataKey recovers the data key with the imported identities.
func (d *Decryptor) dataKey(md *sopsMetadata) ([]byte, error) {
	groups := md.KeyGroups
	if len(groups) == 0 {
		groups = []keyGroup{md.keyGroup}
	}
	if len(groups) > 1 {
		return nil, fmt.Errorf("%d key groups (Shamir secret sharing) are not supported", len(groups))
	}
	g := groups[0]
	for _, e := range g.Age {
		if len(d.ageIdentities) == 0 {
			break
		}
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(e.Enc)), d.ageIdentities...)
		if err != nil {
			continue
		}
		key, err := io.ReadAll(io.LimitReader(r, 1024))
		if err == nil && len(key) == 32 {
			return key, nil
		}
	}
	for _, e := range g.PGP {
		if len(d.pgpKeys) == 0 {
			break
		}
		block, err := pgparmor.Decode(strings.NewReader(e.Enc))
		if err != nil {
			continue
		}
		msg, err := openpgp.ReadMessage(block.Body, d.pgpKeys, nil, nil)
		if err != nil {
			continue
		}
		key, err := io.ReadAll(io.LimitReader(msg.UnverifiedBody, 1024))
		if err == nil && len(key) == 32 {
			return key, nil
		}
	}
	var have []string
	if n := len(g.Age); n > 0 {
		have = append(have, fmt.Sprintf("%d age", n))
	}
	if n := len(g.PGP); n > 0 {
		have = append(have, fmt.Sprintf("%d pgp", n))
	}
	for _, k := range []struct {
		n    int
		name string
	}{{len(g.KMS), "aws kms"}, {len(g.GCPKMS), "gcp kms"}, {len(g.AzureKV), "azure kv"}, {len(g.HCVault), "vault"}} {
		if k.n > 0 {
			have = append(have, fmt.Sprintf("%d %s (unsupported)", k.n, k.name))
		}
	}
	if len(have) == 0 {
		have = []string{"none"}
	}
	return nil, fmt.Errorf("sops data key: %w (recipients: %s; imported: %d age, %d pgp)",
		ErrNoMatchingKey, strings.Join(have, ", "), len(d.ageIdentities), len(d.pgpKeys))
}

// checkMAC compares the MAC of the decrypted tree with the stored one.
func checkMAC(md *sopsMetadata, key []byte, sum []byte) error {
	stored, err := decryptValue(md.MAC, key, md.LastModified)
	if err != nil {
		return fmt.Errorf("verify sops data integrity: %w", err)
	}
	got := fmt.Sprintf("%X", sum)
	if s, _ := stored.(string); s != got {
		return errors.New("verify sops data integrity: MAC mismatch")
	}
	return nil
}

// treeDecrypter walks a decoded tree, decrypting the values the metadata
// marks as encrypted and hashing them for the MAC.
type treeDecrypter struct {
	md      *sopsMetadata
	key     []byte
	hash    hashWriter
	secrets *secretSet
}

type hashWriter interface{ Write([]byte) (int, error) }

func newTreeDecrypter(md *sopsMetadata, key []byte, secrets *secretSet) *treeDecrypter {
	h := sha512.New()
	if md.macOnlyEncrypted() {
		// SOPS seeds the hash with sha256("sops") so that both MAC modes differ.
		seed := sha256.Sum256([]byte("sops"))
		h.Write(seed[:])
	}
	return &treeDecrypter{md: md, key: key, hash: h, secrets: secrets}
}

// leaf decrypts (when needed) one leaf value at path.
func (t *treeDecrypter) leaf(v any, path []string) (any, error) {
	enc := t.md.encrypted(path)
	out := v
	if enc {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("value at %s is not encrypted", strings.Join(path, "."))
		}
		var err error
		out, err = decryptValue(s, t.key, strings.Join(path, ":")+":")
		if err != nil {
			return nil, fmt.Errorf("decrypt value at %s: %w", strings.Join(path, "."), err)
		}
		t.secrets.add(out)
	}
	if !t.md.macOnlyEncrypted() || enc {
		if out != nil {
			_, _ = t.hash.Write(macBytes(out))
		}
	}
	return out, nil
}

// walk decrypts a generic tree (maps, slices, scalars) in place.
func (t *treeDecrypter) walk(v any, path []string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			nv, err := t.walk(v[k], append(append([]string(nil), path...), k))
			if err != nil {
				return nil, err
			}
			v[k] = nv
		}
		return v, nil
	case []any:
		for i := range v {
			nv, err := t.walk(v[i], path)
			if err != nil {
				return nil, err
			}
			v[i] = nv
		}
		return v, nil
	case nil:
		return nil, nil
	default:
		return t.leaf(v, path)
	}
}

// secretSet collects decrypted values so error messages can be scrubbed.
type secretSet struct{ values map[string]struct{} }

func (s *secretSet) add(v any) {
	if s == nil {
		return
	}
	str, ok := v.(string)
	if !ok || len(str) < 4 {
		return
	}
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	s.values[str] = struct{}{}
	for _, line := range strings.Split(str, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 4 {
			s.values[line] = struct{}{}
		}
	}
}

// scrub returns err with every collected value redacted from its message.
func (s *secretSet) scrub(err error) error {
	if err == nil || s == nil || len(s.values) == 0 {
		return err
	}
	msg := err.Error()
	clean := msg
	for v := range s.values {
		clean = strings.ReplaceAll(clean, v, "<redacted>")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
