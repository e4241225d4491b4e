package build

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// testEncrypter produces SOPS-format data for tests: it follows the public
// format (AES-256-GCM, 32-byte IV, path as AAD, data key wrapped per key).
type testEncrypter struct {
	t       *testing.T
	key     []byte
	ageRcpt *age.X25519Identity
}

func newTestEncrypter(t *testing.T) *testEncrypter {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &testEncrypter{t: t, key: key, ageRcpt: id}
}

func (e *testEncrypter) enc(v any, path string) string {
	var typ, plain string
	switch v := v.(type) {
	case string:
		typ, plain = "str", v
	case int:
		typ, plain = "int", strconv.Itoa(v)
	case bool:
		typ, plain = "bool", map[bool]string{true: "True", false: "False"}[v]
	}
	block, _ := aes.NewCipher(e.key)
	iv := make([]byte, 32)
	_, _ = rand.Read(iv)
	gcm, _ := cipher.NewGCMWithNonceSize(block, 32)
	sealed := gcm.Seal(nil, iv, []byte(plain), []byte(path))
	data, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]", b64(data), b64(iv), b64(tag), typ)
}

func (e *testEncrypter) ageEnc() string {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, e.ageRcpt.Recipient())
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = w.Write(e.key)
	_ = w.Close()
	_ = aw.Close()
	return buf.String()
}

func (e *testEncrypter) mac(values ...string) (string, string) {
	h := sha512.New()
	for _, v := range values {
		h.Write([]byte(v))
	}
	lm := time.Now().UTC().Format(time.RFC3339)
	return e.enc(fmt.Sprintf("%X", h.Sum(nil)), lm), lm
}

// metadataYAML renders the sops section with one age key.
func (e *testEncrypter) metadataYAML(mac, lastModified, extra string) string {
	enc := strings.ReplaceAll(strings.TrimSpace(e.ageEnc()), "\n", "\n        ")
	return fmt.Sprintf(`sops:
  age:
    - recipient: %s
      enc: |
        %s
  lastmodified: "%s"
  mac: %s
  version: 3.9.0
%s`, e.ageRcpt.Recipient(), enc, lastModified, mac, extra)
}

func (e *testEncrypter) keys() map[string][]byte {
	return map[string][]byte{"identity.agekey": []byte("# test key\n" + e.ageRcpt.String() + "\n"), "sops.vault-token": []byte("ignored")}
}

func TestDecryptObject(t *testing.T) {
	e := newTestEncrypter(t)
	mac, lm := e.mac("v1", "Secret", "creds", "s3cr3t-password", "42")
	secret := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: %s
  port: %s
%s`, e.enc("s3cr3t-password", "stringData:password:"), e.enc(42, "stringData:port:"), e.metadataYAML(mac, lm, "  encrypted_regex: ^(data|stringData)$\n"))

	other := newTestEncrypter(t)
	tests := []struct {
		name    string
		keys    map[string][]byte
		obj     string
		wantErr string
		check   func(t *testing.T, o *unstructured.Unstructured)
	}{
		{
			name: "age key decrypts the object",
			keys: e.keys(),
			obj:  secret,
			check: func(t *testing.T, o *unstructured.Unstructured) {
				if v, _, _ := unstructured.NestedString(o.Object, "stringData", "password"); v != "s3cr3t-password" {
					t.Errorf("password = %q", v)
				}
				if v, _, _ := unstructured.NestedInt64(o.Object, "stringData", "port"); v != 42 {
					t.Errorf("port = %v", o.Object["stringData"])
				}
				if _, ok := o.Object["sops"]; ok {
					t.Error("sops metadata left in the object")
				}
			},
		},
		{
			name:    "wrong key",
			keys:    other.keys(),
			obj:     secret,
			wantErr: "decrypt Secret/creds: sops data key: no matching key",
		},
		{
			name:    "no keys",
			keys:    nil,
			obj:     secret,
			wantErr: "no matching key (recipients: 1 age; imported: 0 age, 0 pgp)",
		},
		{
			name: "decrypt disabled",
			keys: e.keys(),
			obj:  strings.Replace(secret, "  name: creds\n", "  name: creds\n  annotations:\n    kustomize.toolkit.fluxcd.io/decrypt: Disabled\n", 1),
			check: func(t *testing.T, o *unstructured.Unstructured) {
				if _, ok := o.Object["sops"]; !ok {
					t.Error("object was decrypted")
				}
			},
		},
		{
			name:    "tampered value",
			keys:    e.keys(),
			obj:     strings.Replace(secret, "stringData:\n  password: ENC[AES256_GCM,data:", "stringData:\n  password: ENC[AES256_GCM,data:AA", 1),
			wantErr: "decrypt value at stringData.password",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecryptor(tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			o := obj(t, tt.obj)
			err = d.DecryptObject(o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				if strings.Contains(tt.wantErr, "no matching key") && !errors.Is(err, ErrNoMatchingKey) {
					t.Fatalf("err = %v, want ErrNoMatchingKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestDecryptFileMAC(t *testing.T) {
	e := newTestEncrypter(t)
	mac, lm := e.mac("alice", "wonderland")
	file := fmt.Sprintf("user: %s\npass: %s\n%s", e.enc("alice", "user:"), e.enc("wonderland", "pass:"), e.metadataYAML(mac, lm, ""))
	d, err := NewDecryptor(e.keys())
	if err != nil {
		t.Fatal(err)
	}
	d.VerifyMAC = true
	out, err := d.DecryptFile("creds.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "user: alice\npass: wonderland\n" {
		t.Fatalf("out = %q", out)
	}
	// Reordering values keeps each one valid but breaks the MAC.
	bad, _ := e.mac("wonderland", "alice")
	file = fmt.Sprintf("user: %s\npass: %s\n%s", e.enc("alice", "user:"), e.enc("wonderland", "pass:"), e.metadataYAML(bad, lm, ""))
	if _, err := d.DecryptFile("creds.yaml", []byte(file)); err == nil || !strings.Contains(err.Error(), "MAC mismatch") {
		t.Fatalf("err = %v, want MAC mismatch", err)
	}
	// Plain files pass through.
	if out, err := d.DecryptFile("plain.yaml", []byte("a: b\n")); err != nil || string(out) != "a: b\n" {
		t.Fatalf("plain: %q %v", out, err)
	}
}

func TestDecryptPGP(t *testing.T) {
	e := newTestEncrypter(t)
	ent, err := openpgp.NewEntity("weir", "test", "weir@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, _ := pgparmor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := ent.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	var msg bytes.Buffer
	aw, _ := pgparmor.Encode(&msg, "PGP MESSAGE", nil)
	pw, err := openpgp.Encrypt(aw, []*openpgp.Entity{ent}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = pw.Write(e.key)
	_ = pw.Close()
	_ = aw.Close()
	enc := strings.ReplaceAll(strings.TrimSpace(msg.String()), "\n", "\n        ")
	mac, lm := e.mac("v")
	file := fmt.Sprintf("k: %s\nsops:\n  pgp:\n    - fp: %X\n      enc: |\n        %s\n  lastmodified: \"%s\"\n  mac: %s\n", e.enc("v", "k:"), ent.PrimaryKey.Fingerprint, enc, lm, mac)
	d, err := NewDecryptor(map[string][]byte{"key.asc": priv.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.DecryptFile("x.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "k: v\n" {
		t.Fatalf("out = %q", out)
	}
}

// flatMetadata renders the sops metadata flattened for dotenv/INI files.
func (e *testEncrypter) flatMetadata(prefix, mac, lm string) map[string]string {
	return map[string]string{
		prefix + "age__list_0__map_recipient": e.ageRcpt.Recipient().String(),
		prefix + "age__list_0__map_enc":       strings.ReplaceAll(e.ageEnc(), "\n", `\n`),
		prefix + "lastmodified":               lm,
		prefix + "mac":                        mac,
		prefix + "version":                    "3.9.0",
	}
}

func sortedLines(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + sep + m[k] + "\n")
	}
	return b.String()
}

func TestBuildDecryptsGeneratorSources(t *testing.T) {
	e := newTestEncrypter(t)
	mac, lm := e.mac("hunter22", "s3cr3t-token")
	env := fmt.Sprintf("PASSWORD=%s\nTOKEN=%s\n", e.enc("hunter22", "PASSWORD:"), e.enc("s3cr3t-token", "TOKEN:")) +
		sortedLines(e.flatMetadata("sops_", mac, lm), "=")
	imac, ilm := e.mac("db.example", "s3cr3t-ini")
	ini := fmt.Sprintf("[db]\nhost = %s\npass = %s\n\n[sops]\n", e.enc("db.example", "db:host:"), e.enc("s3cr3t-ini", "db:pass:")) +
		sortedLines(e.flatMetadata("", imac, ilm), " = ")
	ymac, ylm := e.mac("s3cr3t-yaml")
	yml := fmt.Sprintf("api_key: %s\n%s", e.enc("s3cr3t-yaml", "api_key:"), e.metadataYAML(ymac, ylm, ""))
	wholeMac, wlm := e.mac("v1", "Secret", "whole", "s3cr3t-whole")
	whole := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: whole\nstringData:\n  token: %s\n%s",
		e.enc("s3cr3t-whole", "stringData:token:"), e.metadataYAML(wholeMac, wlm, "  encrypted_regex: ^(data|stringData)$\n"))

	files := map[string]string{
		"kustomization.yaml": `namespace: apps
resources: [whole.yaml]
secretGenerator:
- name: env
  envs: [secret.env]
- name: files
  files:
  - config.ini
  - creds.yaml=enc.yaml
generatorOptions:
  disableNameSuffixHash: true
`,
		"secret.env": env,
		"config.ini": ini,
		"enc.yaml":   yml,
		"whole.yaml": whole,
	}
	root := writeTree(t, files)
	d, err := NewDecryptor(e.keys())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Build(t.Context(), root, "", Options{Decryptor: d})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		got[o.GetName()] = o
	}
	dec := func(o *unstructured.Unstructured, k string) string {
		s, _, _ := unstructured.NestedString(o.Object, "data", k)
		b, _ := base64.StdEncoding.DecodeString(s)
		return string(b)
	}
	if v := dec(got["env"], "PASSWORD"); v != "hunter22" {
		t.Errorf("env PASSWORD = %q", v)
	}
	if v := dec(got["env"], "TOKEN"); v != "s3cr3t-token" {
		t.Errorf("env TOKEN = %q", v)
	}
	if v := dec(got["files"], "config.ini"); v != "[db]\nhost = db.example\npass = s3cr3t-ini\n" {
		t.Errorf("config.ini = %q", v)
	}
	if v := dec(got["files"], "creds.yaml"); v != "api_key: s3cr3t-yaml\n" {
		t.Errorf("creds.yaml = %q", v)
	}
	if v, _, _ := unstructured.NestedString(got["whole"].Object, "stringData", "token"); v != "s3cr3t-whole" {
		t.Errorf("whole token = %q", v)
	}
	if got["whole"].GetNamespace() != "apps" {
		t.Errorf("namespace transformer lost: %q", got["whole"].GetNamespace())
	}

	// Without the right key the error names the file and leaks nothing.
	wrong, _ := NewDecryptor(newTestEncrypter(t).keys())
	_, err = Build(t.Context(), root, "", Options{Decryptor: wrong})
	if err == nil || !strings.Contains(err.Error(), "no matching key") || !strings.Contains(err.Error(), "secret.env") {
		t.Fatalf("err = %v, want no matching key naming secret.env", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("error leaks a secret: %v", err)
	}
}

func TestScrubDecryptedValues(t *testing.T) {
	s := &secretSet{}
	s.add("s3cr3t-value")
	s.add("abc") // too short to scrub safely
	err := s.scrub(errors.New(`line 3: invalid "s3cr3t-value" near abc`))
	if strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "<redacted>") {
		t.Fatalf("scrub = %v", err)
	}
	_ = io.Discard
}
