package health_test

import (
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/weirgitops/weir/internal/health"
)

func ExampleExpandChecks() {
	applied := []health.ObjectID{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "api"},
	}
	checks := []meta.NamespacedObjectKindReference{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "apps", Name: "*"}}
	ids, _ := health.ExpandChecks(checks, applied, "flux-system")
	fmt.Println(ids)
	// Output: [Deployment/apps/api Deployment/apps/web]
}
