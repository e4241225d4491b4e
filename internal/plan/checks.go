package plan

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/config"
	"github.com/weirgitops/weir/internal/apply"
)

// Problem is a finding of the checks: what is wrong, where.
type Problem struct {
	// Check names the check: build, substitution, reference, schema, cycle, claim, unencrypted.
	Check string `json:"check"`
	// Unit is the Kustomization or HelmRelease (Kind/namespace/name), File the file, Object
	// the object (Kind/namespace/name) when the problem has one.
	Unit    string `json:"unit,omitempty"`
	File    string `json:"file,omitempty"`
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var where []string
	for _, s := range []string{p.File, p.Unit, p.Object} {
		if s != "" {
			where = append(where, s)
		}
	}
	return fmt.Sprintf("[%s] %s: %s", p.Check, strings.Join(where, " "), p.Message)
}

// Check runs every check on a snapshot.
func Check(s *Snapshot) []Problem {
	var out []Problem
	out = append(out, unitProblems(s)...)
	out = append(out, schemaProblems(s)...)
	out = append(out, cycleProblems(s)...)
	out = append(out, claimProblems(s)...)
	out = append(out, unencryptedProblems(s)...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// unitProblems are the units that could not be built or rendered.
func unitProblems(s *Snapshot) []Problem {
	var out []Problem
	for _, u := range s.Units {
		if u.Err == "" || u.Unresolved {
			continue
		}
		check := "build"
		switch {
		case strings.Contains(u.Err, "post build substitution") || strings.Contains(u.Err, "variable"):
			check = "substitution"
		case strings.Contains(u.Err, errNotInRepository) || strings.Contains(u.Err, "could not find") || strings.Contains(u.Err, "missing key"):
			check = "reference"
		}
		file := u.File
		if u.Kind == KindKustomization && u.spec != nil {
			file = strings.TrimPrefix(u.spec.Spec.Path, "./")
		}
		out = append(out, Problem{Check: check, Unit: u.ID(), File: file, Message: u.Err})
	}
	return out
}

// validator checks objects of one kind.
type validator func(obj *unstructured.Unstructured) []string

// schemaProblems validates every object: built-in kinds by a strict decode into their Go
// types, custom resources against their CustomResourceDefinition's schema (the repository's,
// or Flux's).
func schemaProblems(s *Snapshot) []Problem {
	crds := map[schema.GroupVersionKind]validator{}
	addCRD := func(crd *apiextensionsv1.CustomResourceDefinition) {
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			if val := crdValidator(v.Schema.OpenAPIV3Schema); val != nil {
				crds[gvk] = val
			}
		}
	}
	_ = fs.WalkDir(config.CRDs, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil //nolint:nilerr // the embedded CRDs are known good
		}
		data, err := config.CRDs.ReadFile(p)
		if err != nil {
			return nil //nolint:nilerr // as above
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if yaml.Unmarshal(data, &crd) == nil {
			addCRD(&crd)
		}
		return nil
	})
	for _, u := range s.Units {
		for _, o := range u.Objects {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &crd) == nil {
				addCRD(&crd)
			}
		}
	}
	var out []Problem
	for _, u := range s.Units {
		for _, o := range u.Objects {
			gvk := o.GroupVersionKind()
			var msgs []string
			if val, ok := crds[gvk]; ok {
				msgs = val(o)
			} else if scheme.Scheme.Recognizes(gvk) {
				msgs = strictDecode(o)
			}
			subject := apply.ObjMetadataFor(o).Subject()
			for _, m := range msgs {
				out = append(out, Problem{Check: "schema", Unit: u.ID(), File: u.Files[subject], Object: subject, Message: m})
			}
		}
	}
	return out
}

// crdValidator validates against an OpenAPI v3 schema, unknown fields included.
func crdValidator(v1schema *apiextensionsv1.JSONSchemaProps) validator {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1schema, &internal, nil); err != nil {
		return nil
	}
	val, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		return nil
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		structural = nil
	}
	return func(o *unstructured.Unstructured) []string {
		var msgs []string
		for _, e := range validation.ValidateCustomResource(nil, o.Object, val) {
			msgs = append(msgs, e.Error())
		}
		if structural != nil {
			c := o.DeepCopy()
			for _, p := range pruning.PruneWithOptions(c.Object, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
				msgs = append(msgs, fmt.Sprintf("unknown field %q", p))
			}
		}
		return msgs
	}
}

// strictSerializer decodes built-in kinds, refusing unknown and duplicate fields.
var strictSerializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	kjson.SerializerOptions{Strict: true})

func strictDecode(o *unstructured.Unstructured) []string {
	data, err := o.MarshalJSON()
	if err != nil {
		return []string{err.Error()}
	}
	if _, _, err := strictSerializer.Decode(data, nil, nil); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "strict decoding error: "); i >= 0 {
			msg = msg[i+len("strict decoding error: "):]
		}
		return []string{msg}
	}
	return nil
}

// cycleProblems finds dependsOn cycles among the units.
func cycleProblems(s *Snapshot) []Problem {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var out []Problem
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		stack = append(stack, id)
		if u := s.Unit(id); u != nil {
			for _, dep := range u.DependsOn {
				switch color[dep] {
				case white:
					if s.Unit(dep) != nil {
						visit(dep)
					}
				case grey:
					i := len(stack) - 1
					for i > 0 && stack[i] != dep {
						i--
					}
					cycle := append(append([]string(nil), stack[i:]...), dep)
					out = append(out, Problem{Check: "cycle", Unit: dep, File: s.Unit(dep).File,
						Message: "dependency cycle: " + strings.Join(cycle, " → ")})
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	for _, u := range s.Units {
		if color[u.ID()] == white {
			visit(u.ID())
		}
	}
	return out
}

// claimProblems finds objects two units apply.
func claimProblems(s *Snapshot) []Problem {
	first := map[string]*Unit{}
	var out []Problem
	for _, u := range s.Units {
		for _, o := range u.Objects {
			meta := apply.ObjMetadataFor(o)
			prev, ok := first[meta.ID()]
			if !ok {
				first[meta.ID()] = u
				continue
			}
			if prev == u {
				continue
			}
			out = append(out, Problem{Check: "claim", Unit: u.ID(), File: u.Files[meta.Subject()], Object: meta.Subject(),
				Message: "also applied by " + prev.ID() + " (" + prev.Files[meta.Subject()] + "): each apply takes it from the other, and a prune by either deletes it"})
		}
	}
	return out
}

// unencryptedProblems finds Secrets a Kustomization would apply with values written in the
// repository in plain text (not SOPS-encrypted, not generated from encrypted files).
func unencryptedProblems(s *Snapshot) []Problem {
	var out []Problem
	for _, u := range s.Units {
		if u.Kind != KindKustomization {
			continue
		}
		for _, o := range u.Objects {
			if o.GetKind() != "Secret" || o.GroupVersionKind().Group != "" {
				continue
			}
			if _, ok := o.Object["sops"]; ok {
				continue
			}
			if !hasValues(o) || encryptedValues(o) {
				continue
			}
			subject := apply.ObjMetadataFor(o).Subject()
			out = append(out, Problem{Check: "unencrypted", Unit: u.ID(), File: u.Files[subject], Object: subject,
				Message: "Secret would be applied with values stored unencrypted in the repository"})
		}
	}
	return out
}

func hasValues(o *unstructured.Unstructured) bool {
	for _, f := range []string{"data", "stringData"} {
		if m, ok := o.Object[f].(map[string]any); ok && len(m) > 0 {
			return true
		}
	}
	return false
}

// encryptedValues reports whether the Secret's values are SOPS files (secretGenerator
// sources left encrypted by an offline plan).
func encryptedValues(o *unstructured.Unstructured) bool {
	for _, v := range stringData(o) {
		if strings.Contains(v, "ENC[AES256_GCM,") || bytes.Contains([]byte(v), []byte("sops_mac=ENC[")) {
			return true
		}
	}
	return false
}
