package stack

import (
	"context"
	"fmt"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hopsv1 "github.com/weirgitops/weir/api/hops/v1alpha1"
	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/reconcile"
)

// Finalize takes the stack down in order, each stage waiting for the previous one to be gone:
// the Kustomizations (which prune what they applied); the GitRepository, its ExternalSecret
// and Secret; the GitHub repository, only with allowDelete and the Delete policy; last the
// engine and the NodePool. The engine stays when it was adopted or while other Flux objects
// need it; its deletion is issued, not waited for, since the engine may be this very process.
func (r *Reconciler) Finalize(ctx context.Context, stack *hopsv1.FluxGitopsStack) error {
	var ks []*unstructured.Unstructured
	for _, k := range kustomizations(&stack.Spec) {
		ks = append(ks, kustomizationObject(stack, r.Namespace, k))
	}
	if err := r.deleteAndWait(ctx, stack, "Kustomizations", ks...); err != nil {
		return err
	}
	sec, _ := authSecret(stack, r.Namespace, credentials{})
	if err := r.deleteAndWait(ctx, stack, "the GitRepository and its credentials",
		gitRepository(stack, r.Namespace, "", authNone), externalSecret(stack, r.Namespace, DefaultAPIURL), sec); err != nil {
		return err
	}
	if err := r.finalizeRepository(ctx, stack); err != nil {
		return err
	}
	return r.finalizeEngine(ctx, stack)
}

// deleteAndWait deletes the objects the stack created and waits until none is left.
func (r *Reconciler) deleteAndWait(ctx context.Context, stack *hopsv1.FluxGitopsStack, what string, objs ...*unstructured.Unstructured) error {
	var left []string
	for _, u := range objs {
		if err := r.deleteOwned(ctx, stack, u); err != nil {
			return err
		}
		ok, err := r.exists(ctx, stack, u)
		if err != nil {
			return err
		}
		if ok {
			left = append(left, u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName())
		}
	}
	if len(left) > 0 {
		return reconcile.Waiting(ReasonDeletionInProgress, waitDeletionSteps,
			fmt.Errorf("deleting %s: waiting for %s to be gone", what, strings.Join(left, ", ")))
	}
	return nil
}

// exists reports whether the stack's object named like u is still there.
func (r *Reconciler) exists(ctx context.Context, stack *hopsv1.FluxGitopsStack, u *unstructured.Unstructured) (bool, error) {
	live, err := r.getMeta(ctx, u)
	if err != nil || live == nil {
		return false, err
	}
	return ownedBy(live, stack), nil
}

// finalizeRepository deletes the GitHub repository when allowDelete and the Delete policy
// both allow it; otherwise it says that the repository stays.
func (r *Reconciler) finalizeRepository(ctx context.Context, stack *hopsv1.FluxGitopsStack) error {
	full := stack.Spec.Repository.Org + "/" + repoName(&stack.Spec)
	if stack.Status.Repository.ID == 0 {
		return nil
	}
	if !policiesOf(&stack.Spec).delete {
		r.Recorder.Normal(stack, ReasonRepositoryDeleteGuard, nil,
			"kept repository %s: deletion needs repository.allowDelete and the Delete management policy", full)
		return nil
	}
	cr, err := readCredentials(ctx, r.APIReader, stack)
	if err != nil {
		return err
	}
	gh, err := newClient(ctx, r.HTTPClient, cr)
	if err != nil {
		return err
	}
	deleted, err := deleteRepository(ctx, gh, stack)
	if err != nil {
		return err
	}
	if deleted {
		r.Recorder.Normal(stack, ReasonRepositoryDeleted, nil, "deleted repository %s", full)
	}
	return nil
}

// finalizeEngine deletes the engine's HelmRelease, ExternalArtifact and chart, and the
// NodePool, unless the engine was adopted or other Flux objects remain: then they stay,
// without the stack's labels.
func (r *Reconciler) finalizeEngine(ctx context.Context, stack *hopsv1.FluxGitopsStack) error {
	hr := engineRelease(stack, r.Namespace, nil, false)
	live, err := r.getMeta(ctx, hr)
	if err != nil {
		return err
	}
	if live != nil && ownedBy(live, stack) {
		others, err := r.otherFluxObjects(ctx)
		if err != nil {
			return err
		}
		adopted := live.GetAnnotations()[AnnotationAdopted] == "true"
		if adopted || len(others) > 0 {
			why := "it was installed before the stack"
			if !adopted {
				why = fmt.Sprintf("%d Flux objects still need it (%s)", len(others), strings.Join(others[:min(3, len(others))], ", "))
			}
			r.Recorder.Normal(stack, ReasonEngineKept, nil, "kept the engine, HelmRelease %s/%s: %s", r.Namespace, EngineName, why)
			return r.release(ctx, stack, hr)
		}
	}
	ea := &unstructured.Unstructured{}
	ea.SetGroupVersionKind(sourcev1.GroupVersion.WithKind(sourcev1.ExternalArtifactKind))
	ea.SetNamespace(r.Namespace)
	ea.SetName(EngineName)
	for _, u := range []*unstructured.Unstructured{hr, ea, nodePool(stack)} {
		if err := r.deleteOwned(ctx, stack, u); err != nil {
			return err
		}
	}
	if err := r.Store.Delete(ctx, artifact.Object{Kind: sourcev1.ExternalArtifactKind, Namespace: r.Namespace, Name: EngineName}); err != nil {
		return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("delete weir's chart from the store: %w", err))
	}
	return nil
}

// release removes the stack's labels from the engine's HelmRelease and ExternalArtifact, which
// stay installed.
func (r *Reconciler) release(ctx context.Context, stack *hopsv1.FluxGitopsStack, hr *unstructured.Unstructured) error {
	for _, obj := range []client.Object{&helmv2.HelmRelease{}, &sourcev1.ExternalArtifact{}} {
		if err := r.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: hr.GetName()}, obj); err != nil {
			if client.IgnoreNotFound(err) != nil {
				return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("get %s/%s: %w", r.Namespace, hr.GetName(), err))
			}
			continue
		}
		if !ownedBy(obj, stack) {
			continue
		}
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		l := obj.GetLabels()
		delete(l, LabelStackName)
		delete(l, LabelStackNamespace)
		obj.SetLabels(l)
		if err := r.Patch(ctx, obj, patch); err != nil {
			return reconcile.Failed(ReasonEngineFailed, fmt.Errorf("release %s/%s: %w", r.Namespace, hr.GetName(), err))
		}
	}
	return nil
}

// otherFluxObjects lists the Flux objects, cluster-wide, that the engine reconciles, besides
// its own HelmRelease and ExternalArtifact.
func (r *Reconciler) otherFluxObjects(ctx context.Context) ([]string, error) {
	lists := []client.ObjectList{
		&kustomizev1.KustomizationList{}, &helmv2.HelmReleaseList{}, &sourcev1.GitRepositoryList{},
		&sourcev1.OCIRepositoryList{}, &sourcev1.BucketList{}, &sourcev1.HelmRepositoryList{}, &sourcev1.HelmChartList{},
	}
	var out []string
	for _, l := range lists {
		if err := r.List(ctx, l); err != nil {
			return nil, reconcile.Failed(ReasonEngineFailed, fmt.Errorf("list Flux objects: %w", err))
		}
		items, err := apimeta.ExtractList(l)
		if err != nil {
			return nil, reconcile.Failed(ReasonEngineFailed, fmt.Errorf("list Flux objects: %w", err))
		}
		for _, item := range items {
			o, ok := item.(client.Object)
			if !ok {
				continue
			}
			kind := strings.TrimSuffix(fmt.Sprintf("%T", l), "List")
			kind = kind[strings.LastIndex(kind, ".")+1:]
			if kind == helmv2.HelmReleaseKind && o.GetNamespace() == r.Namespace && o.GetName() == EngineName {
				continue
			}
			out = append(out, kind+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	return out, nil
}

// getMeta reads the metadata of the object named like u from the API server; nil when it does
// not exist or its kind is not installed.
func (r *Reconciler) getMeta(ctx context.Context, u *unstructured.Unstructured) (*metav1.PartialObjectMetadata, error) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}, live)
	switch {
	case apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err):
		return nil, nil
	case err != nil:
		return nil, reconcile.Failed(ReasonApplyFailed, fmt.Errorf("get %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err))
	}
	return live, nil
}
