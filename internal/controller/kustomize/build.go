package kustomize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/build"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/reconcile"
)

// buildObjects unpacks (or reuses) the artifact, builds spec.path with the Kustomization's
// overrides, decrypts, substitutes and validates. Every failure names its cause; none of them
// touches the cluster.
func (r *Reconciler) buildObjects(ctx context.Context, ks *kustomizev1.Kustomization, src sourceArtifact, state *inputState, vars *varsRead) ([]*unstructured.Unstructured, error) {
	root, release, err := r.acquire(ctx, src)
	if err != nil {
		return nil, reconcile.Failed(compat.ArtifactFailedReason, fmt.Errorf("failed to extract artifact of '%s': %w", src, err))
	}
	defer release()

	path := ks.Spec.Path
	if path == "" {
		path = "./"
	}
	full := filepath.Join(root, filepath.Clean("/"+path))
	if fi, err := os.Stat(full); err != nil || !fi.IsDir() {
		return nil, reconcile.Failed(compat.ArtifactFailedReason, fmt.Errorf("kustomization path not found: %s", path))
	}

	// The inputs this Kustomization's last build reached, digested in the new tree, with
	// its variables, name a build that may already have been computed.
	// The variables are read once per reconcile; a failure to read them leaves state.vars
	// empty, which skips the cache and is reported by the substitution below.
	state.vars = r.readVars(ctx, ks, vars).digest
	if last, ok := r.lastInputs(ks); ok && last.generation == ks.Generation && state.vars != "" {
		if digest, err := last.inputs.Digest(root); err == nil {
			res := reconcile.ResourceOf(kustomizev1.GroupVersion, kustomizev1.KustomizationKind, ks)
			if b, ok := r.builds.get(buildKey(ks, digest, state.vars)); ok {
				reconcile.RecordCacheEvent(res, reconcile.CacheHit)
				state.inputs, state.digest, state.sensitive = last.inputs, digest, b.sensitive
				state.manifests = build.ObjectsDigest(b.objs)
				return b.objs, nil
			}
			reconcile.RecordCacheEvent(res, reconcile.CacheMiss)
		}
	}

	p := build.Pipeline{Spec: &ks.Spec, NoRemoteBases: r.NoRemoteBases, Inputs: &state.inputs, Decrypted: &state.sensitive}
	if ks.Spec.Decryption != nil {
		dec, err := r.decryptor(ctx, ks)
		if err != nil {
			return nil, err
		}
		p.Decryptor = dec
	}
	if ks.Spec.PostBuild != nil {
		if err := vars.valuesErr; err != nil {
			return nil, err
		}
		p.Vars = vars.values
	}
	objs, err := r.kustomize(ctx, p, ks, src, root, path)
	if err == nil {
		objs, err = p.PostBuild(objs)
	}
	if err != nil {
		var se *build.StageError
		if errors.As(err, &se) {
			switch se.Stage {
			case build.StageSubstitute:
				return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("post build substitution failed: %w", se.Err))
			case build.StageValidate:
				return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("validation failed: %w", se.Err))
			}
		}
		return nil, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("kustomize build failed: %w", err))
	}
	if state.digest, err = state.inputs.Digest(root); err != nil {
		return nil, reconcile.Failed(compat.ArtifactFailedReason, err)
	}
	if state.vars != "" {
		r.builds.put(buildKey(ks, state.digest, state.vars), built{objs: objs, sensitive: state.sensitive})
	}
	state.manifests = build.ObjectsDigest(objs)
	return objs, nil
}

// kustomize runs the pipeline's kustomize stage, or takes its result from a Kustomization that
// built the same artifact, path and overrides: many Kustomizations of one content (a fleet of
// applications rendered by their variables) build it once. Kustomizations that decrypt never
// share: their keys are their own.
func (r *Reconciler) kustomize(ctx context.Context, p build.Pipeline, ks *kustomizev1.Kustomization, src sourceArtifact, root, path string) ([]*unstructured.Unstructured, error) {
	key := ""
	if ks.Spec.Decryption == nil && src.artifact != nil && src.artifact.Digest != "" {
		key = buildKey(ks, src.artifact.Digest, "kustomize")
	}
	if b, ok := r.kustomized.get(key); ok {
		*p.Inputs = b.inputs
		*p.Decrypted = append(*p.Decrypted, b.sensitive...)
		return b.objs, nil
	}
	objs, err := p.Kustomize(ctx, root, path)
	if err != nil {
		return nil, err
	}
	r.kustomized.put(key, built{objs: objs, sensitive: *p.Decrypted, inputs: *p.Inputs})
	return objs, nil
}

// substitutionVars reads postBuild.substitute and the ConfigMaps and Secrets of
// postBuild.substituteFrom, straight from the API server.
func (r *Reconciler) substitutionVars(ctx context.Context, ks *kustomizev1.Kustomization) (build.Vars, error) {
	return SubstitutionVars(ctx, r.APIReader, ks, r.Gates.Enabled(features.StrictPostBuildSubstitutions))
}

// SubstitutionVars reads the post-build variables of ks as the controller does: postBuild
// .substitute and the ConfigMaps and Secrets of postBuild.substituteFrom, read with c.
func SubstitutionVars(ctx context.Context, c client.Reader, ks *kustomizev1.Kustomization, strict bool) (build.Vars, error) {
	pb := ks.Spec.PostBuild
	if pb == nil {
		return build.Vars{}, nil
	}
	vars := build.Vars{Substitute: pb.Substitute, Strategy: pb.SubstituteStrategy, AllowUndefined: !strict}
	for _, ref := range pb.SubstituteFrom {
		src := build.VarSource{Kind: ref.Kind, Name: ref.Name, Optional: ref.Optional, Data: map[string]string{}}
		key := client.ObjectKey{Namespace: ks.Namespace, Name: ref.Name}
		var err error
		switch ref.Kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err = c.Get(ctx, key, &cm); err == nil {
				src.Found = true
				for k, v := range cm.Data {
					src.Data[k] = v
				}
			}
		case "Secret":
			var s corev1.Secret
			if err = c.Get(ctx, key, &s); err == nil {
				src.Found = true
				for k, v := range s.Data {
					src.Data[k] = string(v)
				}
			}
		default:
			return vars, reconcile.Stalled(compat.BuildFailedReason,
				fmt.Errorf("substituteFrom kind '%s' of '%s' is not supported: use ConfigMap or Secret", ref.Kind, ref.Name))
		}
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return vars, reconcile.Failed(compat.BuildFailedReason, fmt.Errorf("get %s '%s': %w", ref.Kind, key, err))
			}
			if !ref.Optional {
				return vars, reconcile.Failed(compat.BuildFailedReason,
					fmt.Errorf("substitute from '%s/%s' failed: %s '%s' not found", ref.Kind, ref.Name, ref.Kind, key))
			}
		}
		vars.From = append(vars.From, src)
	}
	return vars, nil
}
