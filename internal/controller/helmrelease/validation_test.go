package helmrelease

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
)

// countingVerifier answers from a table and counts the questions.
type countingVerifier struct {
	answers map[schema.GroupVersionKind]error
	asked   int
}

func (v *countingVerifier) HasSupport(gvk schema.GroupVersionKind) error {
	v.asked++
	return v.answers[gvk]
}

func TestFieldValidationVerifierRemembersSupport(t *testing.T) {
	deploy := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	widget := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	next := &countingVerifier{answers: map[schema.GroupVersionKind]error{
		widget: resource.NewParamUnsupportedError(widget, resource.QueryParamFieldValidation),
	}}
	v := &fieldValidationVerifier{next: next, ok: map[schema.GroupVersionKind]bool{}}
	for range 3 {
		if err := v.HasSupport(deploy); err != nil {
			t.Fatalf("Deployment: %v", err)
		}
	}
	if next.asked != 1 {
		t.Errorf("asked %d times about a supported kind, want once", next.asked)
	}
	// Not supported (yet: a CRD may be installed later): asked every time.
	for range 2 {
		if err := v.HasSupport(widget); !resource.IsParamUnsupportedError(err) {
			t.Fatalf("Widget: %v, want unsupported", err)
		}
	}
	if next.asked != 3 {
		t.Errorf("asked %d times in all, want 3", next.asked)
	}
	// A failure to ask (the API server unreachable) is not remembered either.
	next.answers[deploy] = errors.New("connection refused")
	v.ok = map[schema.GroupVersionKind]bool{}
	if err := v.HasSupport(deploy); err == nil {
		t.Fatal("want the error")
	}
	next.answers[deploy] = nil
	if err := v.HasSupport(deploy); err != nil {
		t.Fatalf("after the error: %v", err)
	}
}
