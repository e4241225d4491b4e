package oci

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Flux's artifact media types.
const (
	// ConfigMediaType is the config media type of artifacts pushed by flux and weir.
	ConfigMediaType = "application/vnd.cncf.flux.config.v1+json"
	// ContentMediaType is the media type of their one layer, a gzip tar of the files.
	ContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
	// HelmChartContentMediaType is the layer of a Helm chart pushed with helm push.
	HelmChartContentMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Annotation keys flux writes on an artifact's manifest.
const (
	SourceAnnotation   = "org.opencontainers.image.source"
	RevisionAnnotation = "org.opencontainers.image.revision"
	CreatedAnnotation  = "org.opencontainers.image.created"
)

// Default size limits.
const (
	// DefaultMaxManifestSize is the OCI distribution spec's bound on manifests registries
	// must accept.
	DefaultMaxManifestSize = 4 << 20
	// DefaultMaxLayerSize bounds the compressed layer weir downloads.
	DefaultMaxLayerSize = 1 << 30
)

var (
	// ErrTooLarge means a manifest or layer is over its size limit.
	ErrTooLarge = errors.New("over the size limit")
	// ErrNoLayer means the artifact has no layer the selector picks.
	ErrNoLayer = errors.New("no matching layer")
	// ErrNotArtifact means the manifest is not a single image or artifact manifest.
	ErrNotArtifact = errors.New("not an OCI artifact manifest")
)

// Limits bound what a pull downloads; zero fields take the defaults.
type Limits struct {
	MaxManifestSize, MaxLayerSize int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxManifestSize <= 0 {
		l.MaxManifestSize = DefaultMaxManifestSize
	}
	if l.MaxLayerSize <= 0 {
		l.MaxLayerSize = DefaultMaxLayerSize
	}
	return l
}

// Artifact is a pulled manifest with its selected layer.
type Artifact struct {
	// Manifest is the artifact's manifest.
	Manifest *v1.Manifest
	// Layer is the descriptor of the selected layer.
	Layer v1.Descriptor
	layer v1.Layer
	limit int64
}

// Annotations are the manifest's annotations (nil when it has none).
func (a *Artifact) Annotations() map[string]string { return a.Manifest.Annotations }

// Open returns the selected layer's content as stored in the registry (compressed), verified
// against its digest as it is read, and cut off with ErrTooLarge past the size limit.
func (a *Artifact) Open() (io.ReadCloser, error) {
	rc, err := a.layer.Compressed()
	if err != nil {
		return nil, classify(err, fmt.Sprintf("layer '%s'", a.Layer.Digest))
	}
	return &limitedReader{rc: rc, left: a.limit, digest: a.Layer.Digest.String()}, nil
}

type limitedReader struct {
	rc     io.ReadCloser
	left   int64
	digest string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("layer '%s': %w", l.digest, ErrTooLarge)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fmt.Errorf("layer '%s': %w", l.digest, ErrTooLarge)
	}
	return n, err
}

func (l *limitedReader) Close() error { return l.rc.Close() }

// Pull fetches the manifest res names and selects a layer: the first with mediaType, or the
// first layer when mediaType is empty, as Flux does. The layer itself is
// read with Artifact.Open.
func Pull(ctx context.Context, res Resolved, mediaType string, limits Limits, opts Options) (*Artifact, error) {
	limits = limits.withDefaults()
	if res.Descriptor.Size > limits.MaxManifestSize {
		return nil, fmt.Errorf("manifest '%s' is %d bytes: %w (%d bytes)", res.Digest, res.Descriptor.Size, ErrTooLarge, limits.MaxManifestSize)
	}
	ropts, err := opts.remoteOptions(remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(res.Ref, ropts...)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("manifest '%s'", res.Ref))
	}
	if int64(len(desc.Manifest)) > limits.MaxManifestSize {
		return nil, fmt.Errorf("manifest '%s' is %d bytes: %w (%d bytes)", res.Digest, len(desc.Manifest), ErrTooLarge, limits.MaxManifestSize)
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("'%s' is an image index (%s): %w", res.Ref, desc.MediaType, ErrNotArtifact)
	}
	if desc.MediaType != types.OCIManifestSchema1 && desc.MediaType != types.DockerManifestSchema2 {
		return nil, fmt.Errorf("'%s' has media type '%s': %w", res.Ref, desc.MediaType, ErrNotArtifact)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("'%s': %w", res.Ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("parse manifest '%s': %w", res.Ref, err)
	}
	layer, err := selectLayer(m, mediaType)
	if err != nil {
		return nil, fmt.Errorf("artifact '%s': %w", res.Ref, err)
	}
	if layer.Size > limits.MaxLayerSize {
		return nil, fmt.Errorf("layer '%s' is %d bytes: %w (%d bytes)", layer.Digest, layer.Size, ErrTooLarge, limits.MaxLayerSize)
	}
	l, err := img.LayerByDigest(layer.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer '%s': %w", layer.Digest, err)
	}
	return &Artifact{Manifest: m, Layer: layer, layer: l, limit: min(layer.Size, limits.MaxLayerSize)}, nil
}

func selectLayer(m *v1.Manifest, mediaType string) (v1.Descriptor, error) {
	if len(m.Layers) == 0 {
		return v1.Descriptor{}, fmt.Errorf("%w: no layers found in artifact", ErrNoLayer)
	}
	if mediaType == "" {
		return m.Layers[0], nil
	}
	for _, l := range m.Layers {
		if string(l.MediaType) == mediaType {
			return l, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: failed to find layer with media type '%s' in artifact", ErrNoLayer, mediaType)
}
