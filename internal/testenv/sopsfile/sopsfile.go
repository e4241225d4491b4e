// Package sopsfile writes SOPS-encrypted files in tests exactly as the `sops`
// CLI does: the same stores, data key generation, key groups, Shamir split
// and MAC, through SOPS' own Go module and its local key service.
package sopsfile

import (
	"testing"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// Format is the file format of Encrypt.
type Format int

// Formats Encrypt writes.
const (
	YAML Format = iota
	JSON
	Binary
)

// Options are `sops encrypt` flags.
type Options struct {
	// EncryptedRegex is --encrypted-regex.
	EncryptedRegex string
	// ShamirThreshold is --shamir-secret-sharing-threshold (with several
	// key groups).
	ShamirThreshold int
}

type store interface {
	LoadPlainFile(in []byte) (sops.TreeBranches, error)
	EmitEncryptedFile(in sops.Tree) ([]byte, error)
}

// Encrypt encrypts plain for the key groups (one group per slice) and
// returns the file SOPS would write.
func Encrypt(t testing.TB, plain []byte, format Format, opts Options, groups ...[]keys.MasterKey) []byte {
	t.Helper()
	c := config.NewStoresConfig()
	var st store
	switch format {
	case JSON:
		st = sopsjson.NewStore(&c.JSON)
	case Binary:
		st = sopsjson.NewBinaryStore(&c.JSONBinary)
	default:
		st = sopsyaml.NewStore(&c.YAML)
	}
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("sops: load plain file: %v", err)
	}
	var kgs []sops.KeyGroup
	for _, g := range groups {
		kgs = append(kgs, sops.KeyGroup(g))
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups:       kgs,
		ShamirThreshold: opts.ShamirThreshold,
		EncryptedRegex:  opts.EncryptedRegex,
		Version:         "3.13.3",
	}}
	svcs := []keyservice.KeyServiceClient{keyservice.NewLocalClient()}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices(svcs)
	if len(errs) > 0 {
		t.Fatalf("sops: generate data key: %v", errs)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatalf("sops: encrypt: %v", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatalf("sops: encrypt MAC: %v", err)
	}
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatalf("sops: emit: %v", err)
	}
	return out
}
