package helmrelease

import "sigs.k8s.io/controller-runtime/pkg/controller"

func ctrlOptions(concurrent int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: concurrent}
}
