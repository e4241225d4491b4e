package sourceref

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/artifact"
)

// ErrUnsupportedKind is returned (wrapped) for a kind that is not a Flux source with artifacts.
var ErrUnsupportedKind = errors.New("not a source kind")

// Ref names a source.
type Ref struct {
	Kind, Namespace, Name string
}

// String renders Kind/namespace/name, as Flux's messages do.
func (r Ref) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// Artifact reads the source ref names, with c, and returns its artifact: nil when the source
// has none yet. A source that does not exist gives c's NotFound error.
func Artifact(ctx context.Context, c client.Reader, scheme *runtime.Scheme, ref Ref) (*meta.Artifact, error) {
	o, err := scheme.New(sourcev1.GroupVersion.WithKind(ref.Kind))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Kind, ErrUnsupportedKind)
	}
	src, ok := o.(sourcev1.Source)
	obj, isObj := o.(client.Object)
	if !ok || !isObj {
		return nil, fmt.Errorf("%s: %w", ref.Kind, ErrUnsupportedKind)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj); err != nil {
		return nil, err
	}
	return src.GetArtifact(), nil
}

// maxArtifact bounds an artifact Unpack downloads.
const maxArtifact = 512 << 20

// Unpack downloads the artifact of the source ref names (status.artifact.url, its digest
// checked) and unpacks it into a new directory under parent, which it returns.
func Unpack(ctx context.Context, c client.Reader, scheme *runtime.Scheme, ref Ref, parent string) (string, error) {
	a, err := Artifact(ctx, c, scheme, ref)
	if err != nil {
		return "", fmt.Errorf("read %s in the cluster: %w", ref, err)
	}
	if a == nil {
		return "", fmt.Errorf("%s has no artifact in the cluster yet", ref)
	}
	data, err := artifact.Fetch(ctx, a.URL, a.Digest, maxArtifact)
	if err != nil {
		return "", fmt.Errorf("download the artifact of %s (%s): %w", ref, a.Revision, err)
	}
	dir, err := os.MkdirTemp(parent, "source-")
	if err != nil {
		return "", err
	}
	if err := artifact.ExtractTarGz(ctx, bytes.NewReader(data), dir, artifact.Limits{}); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("unpack the artifact of %s: %w", ref, err)
	}
	return dir, nil
}
