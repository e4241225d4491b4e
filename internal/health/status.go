package health

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Status values, as kstatus names them.
const (
	Current     = status.CurrentStatus
	InProgress  = status.InProgressStatus
	Failed      = status.FailedStatus
	NotFound    = status.NotFoundStatus
	Terminating = status.TerminatingStatus
	Unknown     = status.UnknownStatus
)

// Result is the health of one object.
type Result struct {
	// Status is one of Current, InProgress, Failed, NotFound, Terminating
	// or Unknown.
	Status status.Status
	// Message explains the status in words, when known.
	Message string
}

// Status computes the kstatus health of obj. A nil object is NotFound.
func Status(obj *unstructured.Unstructured) (Result, error) {
	if obj == nil {
		return Result{Status: NotFound, Message: "object not found"}, nil
	}
	res, err := status.Compute(obj)
	if err != nil {
		return Result{Status: Unknown}, fmt.Errorf("compute status of %s: %w", objectRef(obj), err)
	}
	return Result{Status: res.Status, Message: res.Message}, nil
}

func objectRef(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s/%s", obj.GetKind(), obj.GetName())
}
