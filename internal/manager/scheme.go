package manager

import (
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	hopsv1alpha1 "github.com/weirgitops/weir/api/hops/v1alpha1"
)

// NewScheme returns a scheme that knows the built-in Kubernetes kinds, CustomResourceDefinitions
// and every Flux kind weir reconciles, at the versions Flux serves.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		sourcev1.AddToScheme,
		kustomizev1.AddToScheme,
		helmv2.AddToScheme,
		notificationv1.AddToScheme,
		notificationv1beta3.AddToScheme,
		imagev1.AddToScheme,
		imageautov1.AddToScheme,
		hopsv1alpha1.AddToScheme,
	} {
		utilruntime.Must(add(s))
	}
	return s
}
