package sourceref

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
