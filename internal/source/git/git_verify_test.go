package git

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

func mustParseAuthorizedKeys(t *testing.T, data ...[]byte) []ssh.PublicKey {
	t.Helper()
	var out []ssh.PublicKey
	for _, d := range data {
		keys, err := ParseAuthorizedKeys(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, keys...)
	}
	return out
}

func TestVerify(t *testing.T) {
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("signed.git")
	trusted := root.NewPGPKey("trusted")
	other := root.NewPGPKey("other")
	sshTrusted := root.NewSSHSigningKey("ssh-trusted")
	sshOther := root.NewSSHSigningKey("ssh-other")
	repo.Commit("master", "unsigned", map[string]string{"f": "1"})
	repo.Tag("v0.1.0", "master")
	repo.AnnotatedTag("v0.2.0", "master", "unsigned annotated")
	signed := repo.SignHead("master", trusted)
	repo.SignedTag("v1.0.0", signed, "signed release", trusted)
	repo.SignedTag("v1.1.0", signed, "signed by other", other)
	repo.Commit("unsigned", "unsigned", map[string]string{"f": "2"})
	repo.SignedTag("v2.0.0", "unsigned", "signed tag on unsigned commit", trusted)

	// SSH signatures, made by git and ssh-keygen.
	repo.Commit("ssh", "ssh signed", map[string]string{"f": "3"})
	sshSigned := repo.SSHSignHead("ssh", sshTrusted)
	repo.SSHSignedTag("v3.0.0", sshSigned, "ssh signed release", sshTrusted)
	repo.SSHSignedTag("v3.1.0", sshSigned, "ssh signed by other", sshOther)
	repo.SSHSignedTag("v3.2.0", signed, "ssh tag on a pgp signed commit", sshTrusted)
	repo.Commit("ssh-other", "ssh signed by other", map[string]string{"f": "4"})
	repo.SSHSignHead("ssh-other", sshOther)
	repo.Commit("ssh-file-namespace", "ssh signed for files", map[string]string{"f": "5"})
	signOutsideGitNamespace(t, repo.Dir, "ssh-file-namespace")

	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	url := srv.RepoURL(repo.Name)
	pgp := [][]byte{other.PublicArmored, trusted.PublicArmored}
	keys := TrustedKeys{PGP: pgp, SSH: mustParseAuthorizedKeys(t, sshTrusted.AuthorizedKey)}

	tests := []struct {
		name    string
		ref     Reference
		mode    VerifyMode
		keys    TrustedKeys
		wantErr bool
		wantKey string // CommitKey, else TagKey, when set
	}{
		{name: "head signed", ref: Reference{}, mode: VerifyHEAD, keys: keys},
		{name: "legacy head mode", ref: Reference{}, mode: "head", keys: keys},
		{name: "head wrong key", ref: Reference{}, mode: VerifyHEAD, keys: TrustedKeys{PGP: [][]byte{other.PublicArmored}}, wantErr: true},
		{name: "head unsigned", ref: Reference{Branch: "unsigned"}, mode: VerifyHEAD, keys: keys, wantErr: true},
		{name: "tag signed", ref: Reference{Tag: "v1.0.0"}, mode: VerifyTag, keys: keys},
		{name: "tag and head signed", ref: Reference{Tag: "v1.0.0"}, mode: VerifyTagAndHEAD, keys: keys},
		{name: "semver tag signed", ref: Reference{SemVer: "~1.0"}, mode: VerifyTag, keys: keys},
		{name: "tag signed by untrusted", ref: Reference{Tag: "v1.1.0"}, mode: VerifyTag, keys: TrustedKeys{PGP: [][]byte{trusted.PublicArmored}}, wantErr: true},
		{name: "tag mode on branch", ref: Reference{}, mode: VerifyTag, keys: keys, wantErr: true},
		{name: "lightweight tag", ref: Reference{Tag: "v0.1.0"}, mode: VerifyTag, keys: keys, wantErr: true},
		{name: "unsigned annotated tag", ref: Reference{Tag: "v0.2.0"}, mode: VerifyTag, keys: keys, wantErr: true},
		{name: "signed tag unsigned commit", ref: Reference{Tag: "v2.0.0"}, mode: VerifyTagAndHEAD, keys: keys, wantErr: true},
		{name: "signed tag unsigned commit tag only", ref: Reference{Tag: "v2.0.0"}, mode: VerifyTag, keys: keys},
		{name: "no keys", ref: Reference{}, mode: VerifyHEAD, wantErr: true},
		{name: "unknown mode", ref: Reference{}, mode: "Everything", keys: keys, wantErr: true},

		{name: "ssh head signed", ref: Reference{Branch: "ssh"}, mode: VerifyHEAD, keys: keys, wantKey: sshTrusted.Fingerprint},
		{name: "ssh head among several ssh keys", ref: Reference{Branch: "ssh"}, mode: VerifyHEAD,
			keys: TrustedKeys{SSH: mustParseAuthorizedKeys(t, sshOther.AuthorizedKey, sshTrusted.AuthorizedKey)}, wantKey: sshTrusted.Fingerprint},
		{name: "ssh head with only pgp keys", ref: Reference{Branch: "ssh"}, mode: VerifyHEAD, keys: TrustedKeys{PGP: pgp}, wantErr: true},
		{name: "pgp head with only ssh keys", ref: Reference{}, mode: VerifyHEAD, keys: TrustedKeys{SSH: keys.SSH}, wantErr: true},
		{name: "ssh head signed by untrusted", ref: Reference{Branch: "ssh-other"}, mode: VerifyHEAD, keys: keys, wantErr: true},
		{name: "ssh signature outside the git namespace", ref: Reference{Branch: "ssh-file-namespace"}, mode: VerifyHEAD,
			keys: TrustedKeys{SSH: mustParseAuthorizedKeys(t, namespaceKey.authorized)}, wantErr: true},
		{name: "ssh tag signed", ref: Reference{Tag: "v3.0.0"}, mode: VerifyTag, keys: keys, wantKey: sshTrusted.Fingerprint},
		{name: "ssh tag and head signed", ref: Reference{Tag: "v3.0.0"}, mode: VerifyTagAndHEAD, keys: keys, wantKey: sshTrusted.Fingerprint},
		{name: "ssh tag signed by untrusted", ref: Reference{Tag: "v3.1.0"}, mode: VerifyTag, keys: keys, wantErr: true},
		{name: "ssh tag on pgp commit", ref: Reference{Tag: "v3.2.0"}, mode: VerifyTagAndHEAD, keys: keys},
		{name: "ssh tag on pgp commit without pgp keys", ref: Reference{Tag: "v3.2.0"}, mode: VerifyTagAndHEAD, keys: TrustedKeys{SSH: keys.SSH}, wantErr: true},
	}
	for _, c := range clones {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				co, err := c.clone(t.Context(), dir, Options{URL: url, Reference: tt.ref})
				if err != nil {
					t.Fatal(err)
				}
				// What was fetched verifies without the checkout: it is kept and shared so.
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				info := co.CommitInfo
				v, err := info.Verify(tt.mode, tt.keys)
				if tt.wantErr {
					if !errors.Is(err, ErrVerification) {
						t.Fatalf("error = %v, want ErrVerification", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if v.CommitKey == "" && v.TagKey == "" {
					t.Fatal("verification names no key")
				}
				if tt.wantKey != "" && v.CommitKey != tt.wantKey && v.TagKey != tt.wantKey {
					t.Fatalf("verified by %+v, want %s", v, tt.wantKey)
				}
			})
		}
	}
}

// namespaceKey signs in signOutsideGitNamespace.
var namespaceKey = func() struct {
	signer     ssh.Signer
	authorized []byte
} {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		panic(err)
	}
	return struct {
		signer     ssh.Signer
		authorized []byte
	}{signer, ssh.MarshalAuthorizedKey(signer.PublicKey())}
}()

// signOutsideGitNamespace replaces the tip of branch in the bare repository
// at dir with the same commit carrying a valid SSH signature made for the
// "file" namespace instead of "git".
func signOutsideGitNamespace(t *testing.T, dir, branch string) {
	t.Helper()
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	data, err := payload(c.EncodeWithoutSignature)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sshsig.Sign(bytes.NewReader(data), namespaceKey.signer, sshsig.HashSHA512, "file")
	if err != nil {
		t.Fatal(err)
	}
	c.PGPSignature = string(sshsig.Armor(sig))
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(ref.Name(), h)); err != nil {
		t.Fatal(err)
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	root := gitserver.NewRoot(t)
	a, b := root.NewSSHSigningKey("a"), root.NewSSHSigningKey("b")
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr string
	}{
		{name: "one key", data: string(a.AuthorizedKey), want: 1},
		{name: "keys, comments and blank lines", data: "# release keys\n\n" + string(a.AuthorizedKey) + "\n  " + string(b.AuthorizedKey), want: 2},
		{name: "options before the key", data: `no-pty,command="true" ` + string(a.AuthorizedKey), want: 1},
		{name: "not a key", data: string(a.AuthorizedKey) + "ssh-ed25519 not-base64-secretish\n", wantErr: "line 2"},
		{name: "empty", data: "# nothing\n", wantErr: "no SSH public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseAuthorizedKeys([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "secretish") {
					t.Fatalf("error = %v, want one naming %q without quoting the line", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(keys) != tt.want {
				t.Fatalf("got %d keys, %v; want %d", len(keys), err, tt.want)
			}
		})
	}
}
