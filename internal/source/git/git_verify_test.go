package git

import (
	"errors"
	"testing"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

func TestVerify(t *testing.T) {
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("signed.git")
	trusted := root.NewPGPKey("trusted")
	other := root.NewPGPKey("other")
	repo.Commit("master", "unsigned", map[string]string{"f": "1"})
	repo.Tag("v0.1.0", "master")
	repo.AnnotatedTag("v0.2.0", "master", "unsigned annotated")
	signed := repo.SignHead("master", trusted)
	repo.SignedTag("v1.0.0", signed, "signed release", trusted)
	repo.SignedTag("v1.1.0", signed, "signed by other", other)
	repo.Commit("unsigned", "unsigned", map[string]string{"f": "2"})
	repo.SignedTag("v2.0.0", "unsigned", "signed tag on unsigned commit", trusted)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	url := srv.RepoURL(repo.Name)
	keys := [][]byte{other.PublicArmored, trusted.PublicArmored}

	tests := []struct {
		name    string
		ref     Reference
		mode    VerifyMode
		keys    [][]byte
		wantErr bool
	}{
		{"head signed", Reference{}, VerifyHEAD, keys, false},
		{"legacy head mode", Reference{}, "head", keys, false},
		{"head wrong key", Reference{}, VerifyHEAD, [][]byte{other.PublicArmored}, true},
		{"head unsigned", Reference{Branch: "unsigned"}, VerifyHEAD, keys, true},
		{"tag signed", Reference{Tag: "v1.0.0"}, VerifyTag, keys, false},
		{"tag and head signed", Reference{Tag: "v1.0.0"}, VerifyTagAndHEAD, keys, false},
		{"semver tag signed", Reference{SemVer: "~1.0"}, VerifyTag, keys, false},
		{"tag signed by untrusted", Reference{Tag: "v1.1.0"}, VerifyTag, [][]byte{trusted.PublicArmored}, true},
		{"tag mode on branch", Reference{}, VerifyTag, keys, true},
		{"lightweight tag", Reference{Tag: "v0.1.0"}, VerifyTag, keys, true},
		{"unsigned annotated tag", Reference{Tag: "v0.2.0"}, VerifyTag, keys, true},
		{"signed tag unsigned commit", Reference{Tag: "v2.0.0"}, VerifyTagAndHEAD, keys, true},
		{"signed tag unsigned commit tag only", Reference{Tag: "v2.0.0"}, VerifyTag, keys, false},
		{"no keys", Reference{}, VerifyHEAD, nil, true},
		{"unknown mode", Reference{}, "Everything", keys, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co, err := Clone(t.Context(), t.TempDir(), Options{URL: url, Reference: tt.ref})
			if err != nil {
				t.Fatal(err)
			}
			v, err := co.Verify(tt.mode, tt.keys)
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
		})
	}
}
