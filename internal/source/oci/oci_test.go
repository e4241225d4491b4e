package oci

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestParseRepository(t *testing.T) {
	for url, ok := range map[string]bool{
		"oci://ghcr.io/org/app":              true,
		"oci://localhost:5000/app":           true,
		"oci://127.0.0.1:5000/a/b/c":         true,
		"https://ghcr.io/org/app":            false,
		"oci://ghcr.io/org/app:v1":           false,
		"oci://ghcr.io/org/app@sha256:abcd":  false,
		"oci://ghcr.io":                      false,
		"oci://UPPER.io/Org/App":             false,
		"ghcr.io/org/app":                    false,
		"oci://ghcr.io/org/app/../../escape": false,
	} {
		_, err := ParseRepository(url, false)
		if (err == nil) != ok {
			t.Errorf("ParseRepository(%q) error %v, want ok=%v", url, err, ok)
		}
	}
}

func TestParseDockerConfig(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("user:pa:ss"))
	k, err := ParseDockerConfig([]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"},` +
		`"ghcr.io":{"username":"u","password":"p"},"http://10.0.0.1:5000":{"identitytoken":"tok"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]authn.AuthConfig{
		"docker.io/library/nginx":  {Username: "user", Password: "pa:ss"},
		"ghcr.io/org/app":          {Username: "u", Password: "p"},
		"10.0.0.1:5000/app":        {IdentityToken: "tok"},
		"quay.io/other/repository": {},
	}
	for ref, want := range cases {
		r, err := name.NewRepository(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := k.Resolve(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != want.Username || got.Password != want.Password || got.IdentityToken != want.IdentityToken {
			t.Errorf("%s: %+v, want %+v", ref, got, want)
		}
	}
	legacy, err := ParseDockerConfig([]byte(`{"ghcr.io":{"auth":"` + auth + `"}}`))
	if err != nil || legacy["ghcr.io"].Password != "pa:ss" {
		t.Errorf("legacy .dockercfg: %v %+v", err, legacy)
	}
	for _, bad := range []string{`not json`, `{"auths":{"ghcr.io":{"auth":"%%%"}}}`, `{"auths":{"ghcr.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`} {
		if _, err := ParseDockerConfig([]byte(bad)); err == nil || strings.Contains(err.Error(), "nocolon") {
			t.Errorf("ParseDockerConfig(%q) = %v, want an error without the secret", bad, err)
		}
	}
}

func TestResolvedRevision(t *testing.T) {
	r := Resolved{Tag: "v1.0.0"}
	r.Digest.Algorithm, r.Digest.Hex = "sha256", strings.Repeat("a", 64)
	if got := r.Revision(); got != "v1.0.0@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("tag revision %q", got)
	}
	r.Tag = ""
	if got := r.Revision(); got != "sha256:"+strings.Repeat("a", 64) {
		t.Errorf("digest revision %q", got)
	}
}
