package helmrelease

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/kubectl/pkg/util/openapi"
)

// fieldValidationVerifier is kubectl's verifier of the fieldValidation query parameter
// (OpenAPI v3, falling back on v2), shared by every action on one cluster as one identity and
// remembering the kinds the API server supports it for. kubectl builds a verifier per
// Validator call, that is per Helm action, and each one downloads and parses the OpenAPI
// document of every group-version it meets: 30 MiB of garbage and a tenth of a CPU second per
// release, for an answer that does not change. Only support is remembered: a kind that is not
// served yet (a CRD installed later) is asked again.
type fieldValidationVerifier struct {
	next resource.Verifier
	mu   sync.Mutex
	ok   map[schema.GroupVersionKind]bool
}

// newFieldValidationVerifier returns the verifier of the cluster that dyn and disc talk to.
// disc should be uncached: a document is then read once per kind and not kept (core/v1's is
// megabytes), where a cached client would hold every document it read for the process's life.
func newFieldValidationVerifier(dyn dynamic.Interface, disc discovery.DiscoveryInterface) *fieldValidationVerifier {
	param := resource.QueryParamFieldValidation
	return &fieldValidationVerifier{
		next: resource.NewFallbackQueryParamVerifier(
			resource.NewQueryParamVerifierV3(dyn, disc.OpenAPIV3(), param),
			resource.NewQueryParamVerifier(dyn, openapi.NewOpenAPIGetter(disc), param)),
		ok: map[schema.GroupVersionKind]bool{},
	}
}

// HasSupport returns nil when the API server validates the fields of gvk's objects itself. The
// lock is held through the check, so that concurrent releases parse a document once.
func (v *fieldValidationVerifier) HasSupport(gvk schema.GroupVersionKind) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ok[gvk] {
		return nil
	}
	err := v.next.HasSupport(gvk)
	if err == nil {
		v.ok[gvk] = true
	}
	return err
}
