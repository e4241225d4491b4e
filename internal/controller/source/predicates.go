package source

import (
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

func controllerOptions(concurrent int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: concurrent}
}
