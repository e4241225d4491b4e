// Command kube-controller-manager is the upstream Kubernetes controller manager, built from Go
// modules so that Deployments and other built-in kinds report real status in tests.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
