package apply

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func configMap(data map[string]any) *unstructured.Unstructured {
	o := obj("v1", "ConfigMap", "ns", "cfg")
	o.Object["data"] = data
	return o
}

func TestObjectDiff(t *testing.T) {
	live := configMap(map[string]any{"a": "1", "b": "2"})
	live.SetResourceVersion("42")
	live.SetUID("uid")
	merged := configMap(map[string]any{"a": "1", "b": "3"})
	merged.SetResourceVersion("43")
	d, err := ObjectDiff(live, merged)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--- ConfigMap/ns/cfg (live)", "+++ ConfigMap/ns/cfg (merged)", "-  b: \"2\"", "+  b: \"3\""} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "resourceVersion") || strings.Contains(d, "uid") {
		t.Errorf("diff shows server metadata:\n%s", d)
	}
	if d, _ := ObjectDiff(live, live); d != "" {
		t.Errorf("diff of an object with itself:\n%s", d)
	}
	created, _ := ObjectDiff(nil, merged)
	if !strings.Contains(created, "+kind: ConfigMap") {
		t.Errorf("created diff:\n%s", created)
	}
}

func TestObjectDiffMasksSecrets(t *testing.T) {
	secret := func(data map[string]any) *unstructured.Unstructured {
		o := obj("v1", "Secret", "ns", "token")
		o.Object["data"] = data
		return o
	}
	live := secret(map[string]any{"same": "c2VjcmV0MQ==", "changed": "b2xkLXNlY3JldA==", "gone": "Z29uZQ=="})
	merged := secret(map[string]any{"same": "c2VjcmV0MQ==", "changed": "bmV3LXNlY3JldA==", "added": "YWRkZWQ="})
	d, err := ObjectDiff(live, merged)
	if err != nil {
		t.Fatal(err)
	}
	for _, secretValue := range []string{"c2VjcmV0MQ==", "b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "Z29uZQ==", "YWRkZWQ="} {
		if strings.Contains(d, secretValue) {
			t.Fatalf("diff leaks %q:\n%s", secretValue, d)
		}
	}
	for _, want := range []string{"-  changed: '*** (before)'", "+  changed: '*** (after)'", "   same: '***'", "+  added: '*** (after)'", "-  gone: '*** (before)'"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if live.Object["data"].(map[string]any)["same"] != "c2VjcmV0MQ==" {
		t.Error("ObjectDiff modified its input")
	}
}

func TestImmutableError(t *testing.T) {
	gk := schema.GroupKind{Group: "batch", Kind: "Job"}
	immutable := apierrors.NewInvalid(gk, "migrate", field.ErrorList{
		field.Invalid(field.NewPath("spec", "template"), "core.PodTemplateSpec{huge dump}", "field is immutable"),
	})
	service := apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "app", field.ErrorList{
		field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), []string{"10.96.0.9"}, "may not change once set"),
	})
	other := apierrors.NewInvalid(gk, "migrate", field.ErrorList{
		field.Required(field.NewPath("spec", "template", "spec", "containers"), ""),
	})
	cases := map[string]struct {
		err       error
		immutable bool
		text      string
	}{
		"job template":  {err: immutable, immutable: true, text: "immutable field spec.template changed (field is immutable)"},
		"service ip":    {err: service, immutable: true, text: "immutable field spec.clusterIPs[0] changed (may not change once set)"},
		"other invalid": {err: other},
		"not found":     {err: apierrors.NewNotFound(schema.GroupResource{Resource: "jobs"}, "x")},
		"plain":         {err: errors.New("field is immutable")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := IsImmutableError(c.err); got != c.immutable {
				t.Fatalf("IsImmutableError = %v", got)
			}
			if !c.immutable {
				return
			}
			e := newImmutableError(c.err)
			if !strings.HasPrefix(e.Error(), c.text) {
				t.Errorf("Error() = %q, want prefix %q", e.Error(), c.text)
			}
			if strings.Contains(e.Error(), "huge dump") {
				t.Errorf("Error() quotes the value: %q", e.Error())
			}
			if !errors.Is(e, c.err) {
				t.Error("ImmutableError does not unwrap to the server error")
			}
		})
	}
}

func TestSecretErrorHidesValues(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "token", "namespace": "ns"},
		"data": map[string]any{"pass word": "aHVudGVyMg=="}, "stringData": map[string]any{"api": "tok-123456"},
	}}
	cm := secret.DeepCopy()
	cm.SetKind("ConfigMap")
	gr := schema.GroupResource{Resource: "secrets"}
	tests := []struct {
		name    string
		obj     *unstructured.Unstructured
		err     error
		want    string
		apiKind func(error) bool
	}{
		{
			name: "invalid quotes the value",
			obj:  secret,
			err: apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "token", field.ErrorList{
				field.Invalid(field.NewPath("data", "pass word"), "hunter2", "a valid config key must consist of alphanumeric characters"),
			}),
			want: "secret rejected (Invalid, values hidden): data.pass word: FieldValueInvalid", apiKind: apierrors.IsInvalid,
		},
		{
			name: "bad request quotes the value",
			obj:  secret,
			err:  apierrors.NewBadRequest(`.stringData.api: expected string, got &value.valueUnstructured{Value:"tok-123456"}`),
			want: "secret rejected (BadRequest, values hidden): .stringData.api: expected string", apiKind: apierrors.IsBadRequest,
		},
		{
			name: "internal error quotes the value",
			obj:  secret,
			err:  apierrors.NewInternalError(errors.New(`failed to create typed patch object: .data.x: hunter2`)),
			want: "secret rejected (InternalError, values hidden)", apiKind: apierrors.IsInternalError,
		},
		{
			name: "forbidden by a webhook quotes the value",
			obj:  secret,
			err:  apierrors.NewForbidden(gr, "token", errors.New(`admission webhook denied: value "tok-123456" is weak`)),
			want: "secret rejected (Forbidden, values hidden)", apiKind: apierrors.IsForbidden,
		},
		{
			name: "not an api error",
			obj:  secret,
			err:  errors.New(`json: cannot unmarshal "hunter2"`),
			want: "secret values hidden: the request failed before reaching the API server",
		},
		{
			name: "not found keeps its text",
			obj:  secret,
			err:  apierrors.NewNotFound(gr, "token"),
			want: `secrets "token" not found`, apiKind: apierrors.IsNotFound,
		},
		{
			name: "other kinds keep their text",
			obj:  cm,
			err:  apierrors.NewBadRequest("bad value hunter2"),
			want: "bad value hunter2", apiKind: apierrors.IsBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secretError(tt.obj, tt.err)
			if got.Error() != tt.want {
				t.Errorf("Error() = %q, want %q", got.Error(), tt.want)
			}
			if tt.apiKind != nil && !tt.apiKind(got) {
				t.Errorf("%v lost its API status kind", got)
			}
		})
	}
}

func TestObjectErrorMasksSensitiveValues(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"},
		"data": map[string]any{"password": "aHVudGVyMjI="},
	}}
	opts := ApplyOptions{Sensitive: []string{"decrypted-value"}}.withSecrets([]*unstructured.Unstructured{secret})
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	err := opts.objectError(cm, fmt.Errorf("apply ConfigMap/x: %w",
		apierrors.NewBadRequest(`value "hunter22" and decrypted-value from https://tok@host/x`)))
	for _, leak := range []string{"hunter22", "decrypted-value", "tok@"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("%q leaks %q", err, leak)
		}
	}
	if !apierrors.IsBadRequest(err) {
		t.Errorf("%v lost its API status kind", err)
	}
}
