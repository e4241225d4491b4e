package build

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/testenv/sopsfile"
)

// The files under testdata/sops were written by the sops CLI; sops-d holds
// what `sops decrypt` printed for each (see testdata/sops/README.md).

func sopsFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sops", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sopsKeys returns a decryption Secret's data holding the named fixture keys.
func sopsKeys(t *testing.T, names ...string) map[string][]byte {
	t.Helper()
	data := map[string][]byte{}
	for _, n := range names {
		data[n] = sopsFixture(t, n)
	}
	return data
}

func TestDecryptFileAsSopsDecrypts(t *testing.T) {
	d, err := NewDecryptor(sopsKeys(t, "age1.agekey", "pgp.asc"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ file, as, want string }{
		{file: "secret.age.yaml", as: "secret.yaml"},
		{file: "secret.pgp.yaml", as: "secret.yaml"},
		{file: "secret.maconly.yaml", as: "secret.yaml"},
		{file: "secret.groups.yaml", as: "secret.yaml"},
		{file: "secret.shamir.yaml", as: "secret.yaml"},
		{file: "config.age.json", as: "config.json"},
		{file: "app.age.env", as: "app.env"},
		{file: "app.age.ini", as: "app.ini"},
		{file: "blob.age.bin", as: "blob.bin"},
		// A binary envelope is its data whatever the name.
		{file: "blob.age.bin", as: "blob.yaml", want: "blob.age.bin"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" as "+tt.as, func(t *testing.T) {
			out, err := d.DecryptFile(t.Context(), tt.as, sopsFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.file
			}
			if exp := sopsFixture(t, "sops-d/"+want); string(out) != string(exp) {
				t.Fatalf("decrypted differs from sops decrypt:\n got: %q\nwant: %q", out, exp)
			}
		})
	}
	t.Run("not encrypted is unchanged", func(t *testing.T) {
		plain := []byte("a: b\n")
		out, err := d.DecryptFile(t.Context(), "x.yaml", plain)
		if err != nil || string(out) != string(plain) {
			t.Fatalf("out = %q, err = %v", out, err)
		}
	})
}

func TestDecryptKeyGroupsAndShamir(t *testing.T) {
	tests := []struct {
		name string
		file string
		keys []string
		ok   bool
	}{
		{"both groups' keys open two groups", "secret.groups.yaml", []string{"age1.agekey", "pgp.asc"}, true},
		{"one of two groups is not enough", "secret.groups.yaml", []string{"age1.agekey"}, false},
		{"threshold 2 of 3: age1 and age2", "secret.shamir.yaml", []string{"age1.agekey", "age2.agekey"}, true},
		{"threshold 2 of 3: age2 and OpenPGP", "secret.shamir.yaml", []string{"age2.agekey", "pgp.asc"}, true},
		{"threshold 2 of 3: one share", "secret.shamir.yaml", []string{"age2.agekey"}, false},
		{"a key of nothing", "secret.age.yaml", []string{"age3.agekey"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecryptor(sopsKeys(t, tt.keys...))
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.DecryptFile(t.Context(), "secret.yaml", sopsFixture(t, tt.file))
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(out), "password: s3cr3t-p4ss") {
					t.Fatalf("out = %s", out)
				}
				return
			}
			if !errors.Is(err, ErrNoMatchingKey) {
				t.Fatalf("err = %v, want ErrNoMatchingKey", err)
			}
			if !strings.Contains(err.Error(), "decrypt secret.yaml: cannot get sops data key") {
				t.Fatalf("err = %v, want it to name the file", err)
			}
		})
	}
}

func TestDecryptObject(t *testing.T) {
	secret := func(t *testing.T, file string, edit func(o *unstructured.Unstructured)) *unstructured.Unstructured {
		o := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(sopsFixture(t, file), &o.Object); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(o)
		}
		return o
	}
	env := sopsFixture(t, "app.age.env")
	generated := func(t *testing.T) *unstructured.Unstructured {
		o := &unstructured.Unstructured{}
		o.SetAPIVersion("v1")
		o.SetKind("Secret")
		o.SetName("generated")
		o.Object["data"] = map[string]any{"app.env": base64.StdEncoding.EncodeToString(env), "plain": "cGxhaW4="}
		return o
	}
	tests := []struct {
		name    string
		keys    []string
		obj     *unstructured.Unstructured
		wantErr string
		check   func(t *testing.T, o *unstructured.Unstructured)
	}{
		{
			name: "whole object, with kustomize's namespace added",
			keys: []string{"age1.agekey"},
			obj:  secret(t, "secret.age.yaml", func(o *unstructured.Unstructured) { o.SetNamespace("apps") }),
			check: func(t *testing.T, o *unstructured.Unstructured) {
				if v, _, _ := unstructured.NestedString(o.Object, "stringData", "password"); v != "s3cr3t-p4ss" {
					t.Errorf("password = %q", v)
				}
				if v, _, _ := unstructured.NestedString(o.Object, "stringData", "port"); v != "5432" {
					t.Errorf("port = %q", v)
				}
				if _, ok := o.Object["sops"]; ok {
					t.Error("sops metadata left in the object")
				}
				if o.GetNamespace() != "apps" || o.GetLabels()["app"] != "db" {
					t.Errorf("metadata lost: %v", o.Object["metadata"])
				}
			},
		},
		{
			name: "generator data values are files",
			keys: []string{"age1.agekey"},
			obj:  generated(t),
			check: func(t *testing.T, o *unstructured.Unstructured) {
				s, _, _ := unstructured.NestedString(o.Object, "data", "app.env")
				b, _ := base64.StdEncoding.DecodeString(s)
				if want := string(sopsFixture(t, "sops-d/app.age.env")); string(b) != want {
					t.Errorf("app.env = %q, want %q", b, want)
				}
				if s, _, _ := unstructured.NestedString(o.Object, "data", "plain"); s != "cGxhaW4=" {
					t.Errorf("plain value changed: %q", s)
				}
			},
		},
		{
			name:    "wrong key",
			keys:    []string{"age3.agekey"},
			obj:     secret(t, "secret.age.yaml", nil),
			wantErr: "failed to decrypt and format Secret/db: cannot get sops data key: no matching key",
		},
		{
			name: "decrypt disabled",
			keys: []string{"age1.agekey"},
			obj: secret(t, "secret.age.yaml", func(o *unstructured.Unstructured) {
				o.SetAnnotations(map[string]string{DecryptKey: "Disabled"})
			}),
			check: func(t *testing.T, o *unstructured.Unstructured) {
				if _, ok := o.Object["sops"]; !ok {
					t.Error("object was decrypted")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecryptor(sopsKeys(t, tt.keys...))
			if err != nil {
				t.Fatal(err)
			}
			d.VerifyMAC = true // never applies to objects
			err = d.DecryptObject(t.Context(), tt.obj)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("error leaks a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, tt.obj)
			}
		})
	}
}

func TestDecryptFileMAC(t *testing.T) {
	d, err := NewDecryptor(sopsKeys(t, "age1.agekey"))
	if err != nil {
		t.Fatal(err)
	}
	d.VerifyMAC = true
	tamper := func(file string) []byte {
		return []byte(strings.Replace(string(sopsFixture(t, file)), "name: db", "name: dbx", 1))
	}
	if _, err := d.DecryptFile(t.Context(), "s.yaml", sopsFixture(t, "secret.age.yaml")); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	_, err = d.DecryptFile(t.Context(), "s.yaml", tamper("secret.age.yaml"))
	if err == nil || !strings.Contains(err.Error(), "decrypt s.yaml: failed to verify sops data integrity: MAC mismatch") {
		t.Fatalf("changed file: err = %v", err)
	}
	if _, err := d.DecryptFile(t.Context(), "s.yaml", tamper("secret.maconly.yaml")); err != nil {
		t.Fatalf("mac_only_encrypted file with an unencrypted field changed: %v", err)
	}
	d.VerifyMAC = false
	if _, err := d.DecryptFile(t.Context(), "s.yaml", tamper("secret.age.yaml")); err != nil {
		t.Fatalf("changed file without the check (Flux's default): %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string][]byte
		wantErr string
	}{
		{name: "age, OpenPGP and Vault", data: map[string][]byte{"a.agekey": sopsFixture(t, "age1.agekey"),
			"p.asc": sopsFixture(t, "pgp.asc"), VaultTokenKey: []byte("s.token\n")}},
		{name: "invalid age", data: map[string][]byte{"bad.agekey": []byte("AGE-SECRET-KEY-NOPE")}, wantErr: "failed to import 'bad.agekey' data: invalid age identity file"},
		{name: "invalid OpenPGP", data: map[string][]byte{"bad.asc": []byte("-----BEGIN PGP")}, wantErr: "failed to import 'bad.asc' data: invalid armored OpenPGP key ring"},
		{name: "AWS static credentials", data: map[string][]byte{AWSKMSKey: []byte("aws_access_key_id: AKIA\naws_secret_access_key: s3cr3t\n")}},
		{name: "AWS without a secret", data: map[string][]byte{AWSKMSKey: []byte("aws_access_key_id: AKIA\n")},
			wantErr: "failed to import 'sops.aws-kms' data: aws_access_key_id and aws_secret_access_key are required"},
		{name: "Azure service principal", data: map[string][]byte{AzureKVKey: []byte(`{"tenantId":"t","clientId":"c","clientSecret":"s3cr3t"}`)}},
		{name: "Azure az CLI output", data: map[string][]byte{AzureKVKey: []byte("appId: c\npassword: s3cr3t\ntenant: t\n")}},
		{name: "Azure managed identity", data: map[string][]byte{AzureKVKey: []byte("clientId: c\n")}},
		{name: "Azure incomplete", data: map[string][]byte{AzureKVKey: []byte("tenantId: t\n")}, wantErr: "failed to import 'sops.azure-kv' data: expected tenantId"},
		{name: "GCP service account", data: map[string][]byte{GCPKMSKey: []byte(`{"type":"service_account","client_email":"x@y"}`)}},
		{name: "GCP not JSON", data: map[string][]byte{GCPKMSKey: []byte(`s3cr3t`)}, wantErr: "failed to import 'sops.gcp-kms' data: not a Google credentials JSON file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys(tt.data)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "NOPE") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

// ageKey returns a master key for the recipient of a fixture identity.
func ageKey(t *testing.T, name string) keys.MasterKey {
	t.Helper()
	var ids age.ParsedIdentities
	if err := ids.Import(string(sopsFixture(t, name))); err != nil {
		t.Fatal(err)
	}
	line := strings.SplitN(string(sopsFixture(t, name)), "public key: ", 2)[1]
	mk, err := age.MasterKeyFromRecipient(strings.TrimSpace(strings.SplitN(line, "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

func TestBuildDecryptsGeneratorSources(t *testing.T) {
	k := ageKey(t, "age1.agekey")
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
  - blob=blob.bin
generatorOptions:
  disableNameSuffixHash: true
`,
		"secret.env": string(sopsFixture(t, "app.age.env")),
		"config.ini": string(sopsFixture(t, "app.age.ini")),
		"enc.yaml":   string(sopsfile.Encrypt(t, []byte("api_key: s3cr3t-yaml\n"), sopsfile.YAML, sopsfile.Options{}, []keys.MasterKey{k})),
		"blob.bin":   string(sopsFixture(t, "blob.age.bin")),
		"whole.yaml": string(sopsFixture(t, "secret.age.yaml")),
	}
	root := writeTree(t, files)
	d, err := NewDecryptor(sopsKeys(t, "age1.agekey"))
	if err != nil {
		t.Fatal(err)
	}
	var decrypted []string
	objs, err := Build(t.Context(), root, "", Options{Decryptor: d, Decrypted: &decrypted})
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
	if v := dec(got["env"], "DB_PASS"); v != "env-p4ssw0rd" {
		t.Errorf("env DB_PASS = %q", v)
	}
	if v := dec(got["files"], "config.ini"); v != string(sopsFixture(t, "sops-d/app.age.ini")) {
		t.Errorf("config.ini = %q", v)
	}
	if v := dec(got["files"], "creds.yaml"); v != "api_key: s3cr3t-yaml\n" {
		t.Errorf("creds.yaml = %q", v)
	}
	if v := dec(got["files"], "blob"); v != string(sopsFixture(t, "sops-d/blob.bin")) {
		t.Errorf("blob = %q", v)
	}
	if v, _, _ := unstructured.NestedString(got["db"].Object, "stringData", "password"); v != "s3cr3t-p4ss" {
		t.Errorf("whole password = %q", v)
	}
	if got["db"].GetNamespace() != "apps" {
		t.Errorf("namespace transformer lost: %q", got["db"].GetNamespace())
	}
	for _, want := range []string{"env-p4ssw0rd", "s3cr3t-yaml", "s3cr3t-p4ss", "ini-p4ssw0rd"} {
		found := false
		for _, v := range decrypted {
			found = found || v == want
		}
		if !found {
			t.Errorf("decrypted values miss %q", want)
		}
	}

	// Without the right key the error names the file and leaks nothing.
	wrong, _ := NewDecryptor(sopsKeys(t, "age3.agekey"))
	_, err = Build(t.Context(), root, "", Options{Decryptor: wrong})
	if err == nil || !errors.Is(err, ErrNoMatchingKey) && !strings.Contains(err.Error(), "no matching key") {
		t.Fatalf("err = %v, want no matching key", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "p4ssw0rd") {
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
}
