package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	sopsaes "github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// ErrNoMatchingKey is returned (wrapped) when none of the keys can recover the
// SOPS data key of a file.
var ErrNoMatchingKey = errors.New("no matching key")

// maxEncryptedSize bounds the size of an encrypted file or value, as Flux does.
const maxEncryptedSize = 5 << 20

// Decryptor decrypts SOPS-encrypted data exactly as `sops decrypt` does: the
// files are read and written by SOPS' own stores (YAML, JSON, dotenv, INI,
// binary), the data key is recovered from the file's key groups (Shamir
// threshold included) through SOPS' key sources with the keys of a
// decryption Secret (see Keys). It is safe for concurrent use.
type Decryptor struct {
	keys *Keys
	// VerifyMAC enables the SOPS integrity check (MAC over the values in
	// file order) on decrypted files. Off by default as in Flux. Objects
	// encrypted as a whole are never checked: kustomize rewrites them
	// (namespace, labels, name prefix, key order), which changes the MAC.
	VerifyMAC bool
}

// NewDecryptor imports the keys of a decryption Secret's data (see ParseKeys)
// into a Decryptor. Errors name the entry and never include key material.
func NewDecryptor(data map[string][]byte) (*Decryptor, error) {
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, err
	}
	return &Decryptor{keys: keys}, nil
}

// NewKeysDecryptor returns a Decryptor using keys.
func NewKeysDecryptor(keys *Keys) *Decryptor {
	if keys == nil {
		keys = &Keys{}
	}
	return &Decryptor{keys: keys}
}

// store is what SOPS' stores offer for decryption.
type store interface {
	LoadEncryptedFile(in []byte) (sops.Tree, error)
	EmitPlainFile(in sops.TreeBranches) ([]byte, error)
}

// storeFor returns SOPS' store for a format, configured as `sops` is with no
// .sops.yaml.
func storeFor(f sopsFormat) store {
	c := config.NewStoresConfig()
	switch f {
	case formatYAML:
		return sopsyaml.NewStore(&c.YAML)
	case formatJSON:
		return sopsjson.NewStore(&c.JSON)
	case formatDotenv:
		return dotenv.NewStore(&c.Dotenv)
	case formatINI:
		return ini.NewStore(&c.INI)
	default:
		return sopsjson.NewBinaryStore(&c.JSONBinary)
	}
}

// decrypt loads SOPS-encrypted data in format in, recovers the data key,
// decrypts the tree and emits it in format out. Every decrypted value is
// added to secrets. Errors never contain a decrypted value.
func (d *Decryptor) decrypt(ctx context.Context, data []byte, in, out sopsFormat, secrets *secretSet, verifyMAC bool) (plain []byte, err error) {
	if len(data) > maxEncryptedSize {
		return nil, fmt.Errorf("encrypted data exceeds %d bytes", maxEncryptedSize)
	}
	defer func() {
		// Malformed input can make SOPS' stores panic; it is an error here.
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("failed to emit encrypted %s file as decrypted %s: %v", in, out, r)
		}
	}()
	tree, err := storeFor(in).LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("failed to load encrypted %s data: %w", in, err)
	}
	key, err := tree.Metadata.GetDataKeyWithKeyServices(
		[]keyservice.KeyServiceClient{&keyService{ctx: ctx, keys: d.keys}}, sops.DefaultDecryptionOrder)
	if err != nil {
		return nil, fmt.Errorf("cannot get sops data key: %w: %s", ErrNoMatchingKey, oneLine(err))
	}
	encrypted := encryptedLeaves(tree.Branches)
	cipher := sopsaes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		return nil, fmt.Errorf("error decrypting sops tree: %s", oneLine(err))
	}
	collectDecrypted(tree.Branches, encrypted, secrets)
	if verifyMAC {
		stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
		if err != nil {
			return nil, errors.New("failed to verify sops data integrity: the MAC cannot be decrypted")
		}
		if stored != mac {
			return nil, errors.New("failed to verify sops data integrity: MAC mismatch (the file was changed after encryption)")
		}
	}
	plain, err = storeFor(out).EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, secrets.scrub(fmt.Errorf("failed to emit encrypted %s file as decrypted %s: %w", in, out, err))
	}
	return plain, nil
}

// oneLine folds SOPS' multi-line key group reports into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// encryptedLeaves walks branches in order and reports, per leaf, whether it
// holds a SOPS-encrypted value.
func encryptedLeaves(branches sops.TreeBranches) []bool {
	var out []bool
	walkLeaves(branches, func(v any) {
		s, ok := v.(string)
		out = append(out, ok && strings.HasPrefix(s, "ENC[AES256_GCM,"))
	})
	return out
}

// collectDecrypted adds the leaves flagged by encrypted (the same walk
// before decryption) to secrets.
func collectDecrypted(branches sops.TreeBranches, encrypted []bool, secrets *secretSet) {
	if secrets == nil {
		return
	}
	i := 0
	walkLeaves(branches, func(v any) {
		if i < len(encrypted) && encrypted[i] {
			secrets.add(fmt.Sprint(v))
		}
		i++
	})
}

// walkLeaves calls leaf for every scalar value of branches, in order.
func walkLeaves(branches sops.TreeBranches, leaf func(any)) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, item := range v {
				if _, ok := item.Key.(sops.Comment); ok {
					continue
				}
				walk(item.Value)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case sops.Comment:
		default:
			leaf(v)
		}
	}
	for _, b := range branches {
		walk(b)
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
