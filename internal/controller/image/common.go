package image

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// ControllerName is the reporting controller of ImageRepository and ImagePolicy events,
// Flux's name for it.
const ControllerName = "image-reflector-controller"

// AutomationControllerName is the reporting controller of ImageUpdateAutomation events.
const AutomationControllerName = "image-automation-controller"

// outcome is what one run of a kind's steps did: its failure, if any, and whether it changed
// what the object reports (a new image selected, a commit pushed).
type outcome struct {
	err     error
	changed bool
	// message is the success message of a run, when the kind's default does not say it;
	// event is the message of the event that reports a change.
	message, event string
}

// Err returns the failure, nil on success.
func (o outcome) Err() error { return o.err }

// quiet are the reconcile.Steps methods the image kinds share by default.
type quiet[T any] struct{}

// EventMetadata is empty.
func (quiet[T]) EventMetadata(T, outcome) map[string]string { return nil }

// Requeue keeps the skeleton's decision.
func (quiet[T]) Requeue(_ T, _ outcome, res ctrl.Result) ctrl.Result { return res }

// Forget has nothing to drop.
func (quiet[T]) Forget(types.NamespacedName) {}

// Report records nothing more.
func (quiet[T]) Report(T, outcome, time.Duration) {}

func controllerOptions(concurrent int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: concurrent}
}
