package build

import (
	"context"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Stage names a step of Pipeline.
type Stage string

// Pipeline's stages, in order.
const (
	StageBuild      Stage = "build"
	StageSubstitute Stage = "substitute"
	StageValidate   Stage = "validate"
)

// StageError is a Pipeline failure and the stage it happened in.
type StageError struct {
	Stage Stage
	Err   error
}

func (e *StageError) Error() string { return e.Err.Error() }

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// Pipeline is a Kustomization's whole build, the one the controller applies and the one
// `weir build kustomization` and `weir diff kustomization` print: kustomize with the spec's
// overrides (SOPS sources decrypted before it, encrypted objects after it), post-build
// substitution, validation. What it needs from outside the tree (keys, variables) is read
// by the caller.
type Pipeline struct {
	// Spec is the Kustomization's spec: its overrides and postBuild.
	Spec *kustomizev1.KustomizationSpec
	// Decryptor, when set, decrypts SOPS data; without it encrypted data stays as it is.
	Decryptor *Decryptor
	// Vars are the post-build variables; used when Spec.PostBuild is set.
	Vars Vars
	// NoRemoteBases refuses remote bases.
	NoRemoteBases bool
	// Ignore, when set, leaves out of a generated kustomization the files and directories
	// (slash-separated, relative to the build root) it reports.
	Ignore func(path string, dir bool) bool
	// Inputs and Decrypted are Options' of the same names.
	Inputs    *Inputs
	Decrypted *[]string
}

// Run builds path (relative to root) into the objects to apply: Kustomize, then PostBuild. A
// failure is a *StageError.
func (p Pipeline) Run(ctx context.Context, root, path string) ([]*unstructured.Unstructured, error) {
	objs, err := p.Kustomize(ctx, root, path)
	if err != nil {
		return nil, err
	}
	return p.PostBuild(objs)
}

// Kustomize is the build stage: kustomize with the spec's overrides and SOPS decryption, before
// any variable is substituted. Its result depends only on the tree, path, overrides and
// decryption keys, so Kustomizations that share them may share it. A failure is a *StageError.
func (p Pipeline) Kustomize(ctx context.Context, root, path string) ([]*unstructured.Unstructured, error) {
	objs, err := Build(ctx, root, path, Options{Overrides: OverridesFromSpec(p.Spec), NoRemoteBases: p.NoRemoteBases,
		Decryptor: p.Decryptor, Inputs: p.Inputs, Decrypted: p.Decrypted, Ignore: p.Ignore})
	if err != nil {
		return nil, &StageError{Stage: StageBuild, Err: err}
	}
	return objs, nil
}

// PostBuild substitutes the variables (when the spec has postBuild) into objs and validates
// them. A failure is a *StageError.
func (p Pipeline) PostBuild(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if p.Spec != nil && p.Spec.PostBuild != nil {
		if p.Decrypted != nil {
			*p.Decrypted = append(*p.Decrypted, p.Vars.SecretValues()...)
		}
		if err := Substitute(objs, p.Vars); err != nil {
			return nil, &StageError{Stage: StageSubstitute, Err: err}
		}
	}
	if err := Validate(objs); err != nil {
		return nil, &StageError{Stage: StageValidate, Err: err}
	}
	return objs, nil
}
