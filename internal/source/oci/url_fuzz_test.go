package oci

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks the parsers of OCI references users write (OCIRepository and HelmRepository
// spec.url, ImageRepository spec.image, the CLI's artifact URLs): never a panic, an
// ErrInvalidURL refusal or a reference with a registry, a repository URL or image that names
// neither tag nor digest and parses again from its canonical name, and an artifact whose
// identifier is its tag or its digest.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"oci://ghcr.io/org/app", "oci://localhost:5000/charts", "oci://ghcr.io/org/app:v1.0.0",
		"oci://ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"oci://ghcr.io", "oci://host/../x", "https://ghcr.io/org/app", "alpine", "localhost:5000/app",
		"ghcr.io/org/app:latest", "oci://[::1]:5000/a/b",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, insecure bool) {
		if repo, err := ParseRepository(s, insecure); err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("ParseRepository(%q) = %v, want ErrInvalidURL", s, err)
			}
		} else {
			if repo.RegistryStr() == "" || repo.RepositoryStr() == "" || strings.ContainsAny(repo.Name(), "@") {
				t.Fatalf("ParseRepository(%q) = %q", s, repo.Name())
			}
			if again, err := ParseRepository(Prefix+repo.Name(), insecure); err != nil || again.Name() != repo.Name() {
				t.Fatalf("ParseRepository(%q) = %q, which parses again as %q, %v", s, repo.Name(), again.Name(), err)
			}
		}
		if ref, err := ParseArtifact(s, insecure); err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("ParseArtifact(%q) = %v, want ErrInvalidURL", s, err)
			}
		} else if ref.Context().RegistryStr() == "" || ref.Identifier() == "" || !strings.HasSuffix(ref.Name(), ref.Identifier()) {
			t.Fatalf("ParseArtifact(%q) = %q, identifier %q", s, ref.Name(), ref.Identifier())
		}
		if repo, err := ParseImage(s, insecure); err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("ParseImage(%q) = %v, want ErrInvalidURL", s, err)
			}
		} else if repo.RegistryStr() == "" || repo.RepositoryStr() == "" || strings.Contains(repo.Name(), "@") {
			t.Fatalf("ParseImage(%q) = %q", s, repo.Name())
		}
	})
}
