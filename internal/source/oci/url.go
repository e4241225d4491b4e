package oci

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Prefix is the scheme of OCI repository URLs.
const Prefix = "oci://"

// ErrInvalidURL means a URL is not oci://host[:port]/repository.
var ErrInvalidURL = errors.New("invalid OCI repository URL")

// ParseRepository parses oci://host[:port]/repository, which names a repository and carries
// neither tag nor digest. insecure allows plain HTTP to the registry.
func ParseRepository(url string, insecure bool) (name.Repository, error) {
	if !strings.HasPrefix(url, Prefix) {
		return name.Repository{}, fmt.Errorf("%w: URL must be in format 'oci://<domain>/<org>/<repo>': '%s'", ErrInvalidURL, url)
	}
	s := strings.TrimPrefix(url, Prefix)
	if strings.ContainsAny(s, "@") || strings.Contains(s[strings.LastIndex(s, "/")+1:], ":") {
		return name.Repository{}, fmt.Errorf("%w: '%s' must not name a tag or digest, use spec.ref", ErrInvalidURL, url)
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." || seg == "" {
			return name.Repository{}, fmt.Errorf("%w: '%s' has an empty, '.' or '..' path segment", ErrInvalidURL, url)
		}
	}
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(s, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%w: '%s': %w", ErrInvalidURL, url, err)
	}
	if !strings.Contains(s, "/") {
		return name.Repository{}, fmt.Errorf("%w: '%s' has no repository path", ErrInvalidURL, url)
	}
	return repo, nil
}

// ParseArtifact parses oci://host[:port]/repository:tag or @digest, as the CLI takes it; a
// URL without either means the tag "latest".
func ParseArtifact(url string, insecure bool) (name.Reference, error) {
	if !strings.HasPrefix(url, Prefix) {
		return nil, fmt.Errorf("%w: URL must be in format 'oci://<domain>/<org>/<repo>[:<tag>]': '%s'", ErrInvalidURL, url)
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(url, Prefix), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: '%s': %w", ErrInvalidURL, url, err)
	}
	return ref, nil
}
