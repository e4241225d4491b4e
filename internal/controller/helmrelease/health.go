package helmrelease

import (
	"context"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/weirgitops/weir/internal/health"
)

// celReader is a status reader for Helm's kstatus wait that computes the health of the kinds
// spec.healthCheckExprs cover with their CEL expressions (Helm's own readers handle the rest).
type celReader struct {
	ev     *health.Evaluator
	mapper meta.RESTMapper
}

var _ engine.StatusReader = celReader{}

// Supports reports whether an expression covers gk.
func (c celReader) Supports(gk schema.GroupKind) bool { return c.ev.CoversKind(gk) }

// ReadStatus reads the object id names and computes its health.
func (c celReader) ReadStatus(ctx context.Context, reader engine.ClusterReader, id object.ObjMetadata) (*event.ResourceStatus, error) {
	m, err := c.mapper.RESTMapping(id.GroupKind)
	if err != nil {
		// Not a fatal error: the status says what went wrong, as kstatus's own readers do.
		return &event.ResourceStatus{Identifier: id, Status: status.UnknownStatus, Error: err}, nil //nolint:nilerr // see above
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(m.GroupVersionKind)
	if err := reader.Get(ctx, types.NamespacedName{Namespace: id.Namespace, Name: id.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return &event.ResourceStatus{Identifier: id, Status: status.NotFoundStatus, Message: "Resource not found"}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &event.ResourceStatus{Identifier: id, Status: status.UnknownStatus, Error: err}, nil
	}
	return c.ReadStatusForObject(ctx, reader, obj)
}

// ReadStatusForObject computes obj's health with the expressions.
func (c celReader) ReadStatusForObject(ctx context.Context, _ engine.ClusterReader, obj *unstructured.Unstructured) (*event.ResourceStatus, error) {
	id := object.UnstructuredToObjMetadata(obj)
	res, err := c.ev.Status(ctx, obj)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &event.ResourceStatus{Identifier: id, Status: status.UnknownStatus, Resource: obj, Error: err}, nil
	}
	return &event.ResourceStatus{Identifier: id, Status: status.Status(res.Status), Resource: obj, Message: res.Message}, nil
}
