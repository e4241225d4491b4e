package kustomize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/depends"
	"github.com/weirgitops/weir/internal/features"
	"github.com/weirgitops/weir/internal/healthwatch"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/target"
	"github.com/weirgitops/weir/internal/workspace"
)

// Field indexes on Kustomizations.
const (
	sourceIndex     = ".spec.sourceRef"
	dependsOnIndex  = ".spec.dependsOn"
	varsFromIndex   = ".spec.postBuild.substituteFrom"
	secretRefsIndex = ".spec.secretRefs"
)

// SetupWithManager registers the reconciler and its triggers: a new artifact of its source
// (in-process, from the artifact store, and from the source's status), a dependency turning
// Ready, a change of a ConfigMap or Secret it substitutes from, and a change of an object its
// health check waits on.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrent int) error {
	tmp := r.TempDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	ws, err := workspace.New(r.Store, filepath.Join(tmp, fmt.Sprintf("weir-workspaces-%d", os.Getpid())))
	if err != nil {
		return err
	}
	r.workspaces = ws
	r.builds.max = r.BuildCacheSize
	r.kustomized.max = min(r.BuildCacheSize, kustomizedCacheSize)
	r.targets = &target.Factory{Base: mgr.GetConfig(), New: func(cfg *rest.Config) (client.Client, error) {
		return client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	}, Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(),
		DefaultServiceAccount: r.DefaultServiceAccount, DefaultKubeConfigServiceAccount: r.DefaultKubeConfigServiceAccount,
		KubeConfigs: r.KubeConfigs}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	idx := mgr.GetFieldIndexer()
	indexes := map[string]client.IndexerFunc{
		sourceIndex:    func(o client.Object) []string { return []string{sourceRefKey(o.(*kustomizev1.Kustomization))} },
		dependsOnIndex: func(o client.Object) []string { return depends.IndexKeys(o, depends.DependsOnOf(o)) },
		varsFromIndex: func(o client.Object) []string {
			ks := o.(*kustomizev1.Kustomization)
			var keys []string
			if ks.Spec.PostBuild != nil {
				for _, ref := range ks.Spec.PostBuild.SubstituteFrom {
					keys = append(keys, ref.Kind+"/"+ks.Namespace+"/"+ref.Name)
				}
			}
			if ks.Spec.Decryption != nil && ks.Spec.Decryption.SecretRef != nil {
				keys = append(keys, "Secret/"+ks.Namespace+"/"+ks.Spec.Decryption.SecretRef.Name)
			}
			return keys
		},
	}
	for name, fn := range indexes {
		if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, name, fn); err != nil {
			return fmt.Errorf("index %s: %w", name, err)
		}
	}

	// The in-process signal: the store tells of a new artifact before the source's status is
	// even written; users are enqueued at once (a health wait of an older revision ends when
	// they reconcile, see resumable).
	signals := make(chan event.TypedGenericEvent[*kustomizev1.Kustomization], 1024)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		cancelSub := r.Store.Subscribe(func(e artifact.Event) {
			key := sourceKey(e.Object.Kind, e.Object.Namespace, e.Object.Name)
			reqs, changed := r.changedFirst(ctx, r.requestsFor(ctx, sourceIndex, key), e)
			for i, req := range reqs {
				ks := &kustomizev1.Kustomization{}
				ks.Namespace, ks.Name = req.Namespace, req.Name
				if i < changed {
					ks.Annotations = map[string]string{inputsChangedMark: "true"}
				}
				select {
				case signals <- event.TypedGenericEvent[*kustomizev1.Kustomization]{Object: ks}:
				case <-ctx.Done():
					return
				}
			}
		})
		<-ctx.Done()
		cancelSub()
		ws.Close()
		return nil
	})); err != nil {
		return fmt.Errorf("add artifact subscription: %w", err)
	}

	// Health waits: a change of a waited-on object reconciles its Kustomization again.
	wakes := make(chan event.TypedGenericEvent[*kustomizev1.Kustomization], 1024)
	r.health = healthwatch.New(mgr.GetCache(), mgr.GetScheme(), mgr.GetAPIReader(), mgr.GetRESTMapper(), func(key types.NamespacedName) {
		ks := &kustomizev1.Kustomization{}
		ks.Namespace, ks.Name = key.Namespace, key.Name
		wakes <- event.TypedGenericEvent[*kustomizev1.Kustomization]{Object: ks}
	})

	b := ctrl.NewControllerManagedBy(mgr).
		Named("kustomization").
		For(&kustomizev1.Kustomization{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&sourcev1.GitRepository{}, r.enqueueBy(ctx, sourceIndex, func(o client.Object) string {
			return sourceKey(sourcev1.GitRepositoryKind, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.OCIRepository{}, r.enqueueBy(ctx, sourceIndex, func(o client.Object) string {
			return sourceKey(sourcev1.OCIRepositoryKind, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.Bucket{}, r.enqueueBy(ctx, sourceIndex, func(o client.Object) string {
			return sourceKey(sourcev1.BucketKind, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&sourcev1.ExternalArtifact{}, r.enqueueBy(ctx, sourceIndex, func(o client.Object) string {
			return sourceKey(sourcev1.ExternalArtifactKind, o.GetNamespace(), o.GetName())
		}), builder.WithPredicates(reconcile.ArtifactChanged{})).
		Watches(&kustomizev1.Kustomization{}, r.enqueueBy(ctx, dependsOnIndex, func(o client.Object) string {
			return o.GetNamespace() + "/" + o.GetName()
		}), builder.WithPredicates(becameReady{})).
		WatchesRawSource(source.Channel(signals, handler.TypedFuncs[*kustomizev1.Kustomization, ctrl.Request]{
			GenericFunc: enqueueSignal,
		})).
		WatchesRawSource(source.Channel(wakes, &handler.TypedEnqueueRequestForObject[*kustomizev1.Kustomization]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrent})
	if !r.Gates.Enabled(features.DisableConfigWatchers) {
		b = b.
			Watches(&corev1.ConfigMap{}, r.enqueueBy(ctx, varsFromIndex, func(o client.Object) string {
				return "ConfigMap/" + o.GetNamespace() + "/" + o.GetName()
			}), builder.OnlyMetadata, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}, reconcile.LabelsMatch(r.ConfigsSelector))).
			Watches(&corev1.Secret{}, r.enqueueBy(ctx, varsFromIndex, func(o client.Object) string {
				return "Secret/" + o.GetNamespace() + "/" + o.GetName()
			}), builder.OnlyMetadata, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}, reconcile.LabelsMatch(r.ConfigsSelector)))
	}
	return b.Complete(r.skeleton())
}

// enqueueBy maps an object to the Kustomizations whose index entry names it.
func (r *Reconciler) enqueueBy(ctx context.Context, index string, key func(client.Object) string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		return r.requestsFor(ctx, index, key(o))
	})
}

func (r *Reconciler) requestsFor(ctx context.Context, index, key string) []ctrl.Request {
	var list kustomizev1.KustomizationList
	if err := r.List(ctx, &list, client.MatchingFields{index: key}); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for _, ks := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ks.Namespace, Name: ks.Name}})
	}
	return reqs
}

// changedFirst orders the Kustomizations of a source that stored a new artifact so that those
// whose build inputs changed are enqueued ahead of those that will only record the revision:
// in a monorepo, the application that a push changed is applied first.
func (r *Reconciler) changedFirst(ctx context.Context, reqs []ctrl.Request, e artifact.Event) ([]ctrl.Request, int) {
	if len(reqs) < 2 {
		return reqs, len(reqs)
	}
	size := e.Record.Size
	src := sourceArtifact{kind: e.Object.Kind, namespace: e.Object.Namespace, name: e.Object.Name,
		artifact: &meta.Artifact{Path: e.Record.Path, URL: e.Record.URL, Revision: e.Record.Revision,
			Digest: e.Record.Digest, LastUpdateTime: metav1.NewTime(e.Record.LastUpdateTime), Size: &size}}
	changed := make([]ctrl.Request, 0, len(reqs))
	var unchanged []ctrl.Request
	for _, req := range reqs {
		var ks kustomizev1.Kustomization
		if err := r.Get(ctx, req.NamespacedName, &ks); err == nil && r.unchangedInputs(ctx, &ks, src, &varsRead{}) {
			unchanged = append(unchanged, req)
			continue
		}
		changed = append(changed, req)
	}
	return append(changed, unchanged...), len(changed)
}

// inputsChangedMark marks, on the in-process signal's events only, a Kustomization whose build
// inputs the new artifact changed.
const inputsChangedMark = "weir.internal/inputs-changed"

// highPriority is the work-queue priority of Kustomizations a new artifact changed: they go
// ahead of those that only record the revision and of interval re-applies.
const highPriority = 100

// enqueueSignal enqueues a Kustomization told of by the artifact store, ahead of the rest when
// its inputs changed.
func enqueueSignal(_ context.Context, e event.TypedGenericEvent[*kustomizev1.Kustomization], q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: e.Object.Namespace, Name: e.Object.Name}}
	if pq, ok := q.(priorityqueue.PriorityQueue[ctrl.Request]); ok && e.Object.Annotations[inputsChangedMark] == "true" {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptrTo(highPriority)}, req)
		return
	}
	q.Add(req)
}

func ptrTo[T any](v T) *T { return &v }
