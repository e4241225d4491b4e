package oci

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Metadata is what an artifact's manifest annotations say about its origin.
type Metadata struct {
	// Source is the origin's URL (org.opencontainers.image.source).
	Source string
	// Revision is the origin's revision (org.opencontainers.image.revision).
	Revision string
	// Created is the RFC 3339 creation time (org.opencontainers.image.created).
	Created string
	// Annotations are more manifest annotations.
	Annotations map[string]string
}

func (m Metadata) annotations() map[string]string {
	out := map[string]string{}
	for k, v := range m.Annotations {
		out[k] = v
	}
	if m.Source != "" {
		out[SourceAnnotation] = m.Source
	}
	if m.Revision != "" {
		out[RevisionAnnotation] = m.Revision
	}
	if m.Created != "" {
		out[CreatedAnnotation] = m.Created
	}
	return out
}

// MetadataOf reads Metadata back from manifest annotations.
func MetadataOf(annotations map[string]string) Metadata {
	m := Metadata{Source: annotations[SourceAnnotation], Revision: annotations[RevisionAnnotation],
		Created: annotations[CreatedAnnotation], Annotations: map[string]string{}}
	for k, v := range annotations {
		switch k {
		case SourceAnnotation, RevisionAnnotation, CreatedAnnotation:
		default:
			m.Annotations[k] = v
		}
	}
	return m
}

// Push uploads content, a gzip tar, as a Flux artifact: an OCI image manifest with Flux's
// config media type, one layer of Flux's content media type, and meta as annotations. It
// returns the manifest digest.
func Push(ctx context.Context, ref name.Reference, content []byte, meta Metadata, opts Options) (v1.Hash, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(ConfigMediaType))
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(content, types.MediaType(ContentMediaType))})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build artifact: %w", err)
	}
	img = mutate.Annotations(img, meta.annotations()).(v1.Image)
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build artifact: %w", err)
	}
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(ref, img, ropts...); err != nil {
		return v1.Hash{}, classify(err, fmt.Sprintf("push '%s'", ref))
	}
	return digest, nil
}

// Tag gives the manifest ref names another tag.
func Tag(ctx context.Context, ref name.Reference, tag string, opts Options) (name.Tag, error) {
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return name.Tag{}, err
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return name.Tag{}, classify(err, fmt.Sprintf("'%s'", ref))
	}
	dst := ref.Context().Tag(tag)
	if err := remote.Tag(dst, desc, ropts...); err != nil {
		return name.Tag{}, classify(err, fmt.Sprintf("tag '%s'", dst))
	}
	return dst, nil
}

// Listed is one tag of a repository.
type Listed struct {
	Tag    string
	Digest v1.Hash
	Meta   Metadata
}

// List returns the repository's tags, newest semver-looking names first, each with its digest
// and its manifest's origin annotations; tags whose manifest is not an artifact are listed
// without metadata.
func List(ctx context.Context, repo name.Repository, opts Options) ([]Listed, error) {
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(repo, ropts...)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("tags of '%s'", repo))
	}
	sort.Strings(tags)
	out := make([]Listed, 0, len(tags))
	for _, t := range tags {
		desc, err := remote.Get(repo.Tag(t), ropts...)
		if err != nil {
			return nil, classify(err, fmt.Sprintf("'%s'", repo.Tag(t)))
		}
		l := Listed{Tag: t, Digest: desc.Digest}
		if !desc.MediaType.IsIndex() {
			if m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest))); err == nil {
				l.Meta = MetadataOf(m.Annotations)
			}
		}
		out = append(out, l)
	}
	return out, nil
}
