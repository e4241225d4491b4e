package ociregistry

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/source/oci"
)

// Options for clients of this registry: its CA and credentials.
func (r *Registry) ClientOptions() oci.Options {
	o := oci.Options{CACert: r.CAPEM()}
	if r.opts.Username != "" {
		o.Keychain = oci.Keychain{r.Host(): {Username: r.opts.Username, Password: r.opts.Password}}
	}
	return o
}

// TarGz packs files (path → content) as weir and flux pack artifacts.
func TarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := artifact.WriteTarGz(t.Context(), &buf, dir, nil, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PushFiles pushes files as a Flux artifact to repo:tag and returns the manifest digest.
func (r *Registry) PushFiles(t testing.TB, repo, tag string, files map[string]string, meta oci.Metadata) v1.Hash {
	t.Helper()
	return r.PushContent(t, repo, tag, TarGz(t, files), meta)
}

// PushContent pushes a gzip tar as a Flux artifact to repo:tag.
func (r *Registry) PushContent(t testing.TB, repo, tag string, content []byte, meta oci.Metadata) v1.Hash {
	t.Helper()
	ref, err := oci.ParseArtifact(r.URL(repo)+":"+tag, r.srv.TLS == nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := oci.Push(t.Context(), ref, content, meta, r.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return d
}
