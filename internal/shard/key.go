package shard

import (
	"context"
	"reflect"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Key returns obj's shard key, "Kind/namespace/name": a source's own, a consumer's source's
// (a reference's namespace defaults to obj's), so that the objects reading one artifact store
// land where the source writes it:
//
//   - Kustomization: spec.sourceRef;
//   - HelmRelease: spec.chartRef, else spec.chart.spec.sourceRef (the HelmRepository, which
//     the generated HelmChart keys to as well);
//   - HelmChart: spec.sourceRef;
//   - ImagePolicy: spec.imageRepositoryRef (the tags it reads are the ImageRepository's);
//   - ImageUpdateAutomation: spec.sourceRef (GitRepository by default);
//   - anything else, sources included: the object itself.
func Key(obj client.Object) string {
	ns := obj.GetNamespace()
	switch o := obj.(type) {
	case *kustomizev1.Kustomization:
		if o.Spec.SourceRef.Name != "" {
			return join(o.Spec.SourceRef.Kind, or(o.Spec.SourceRef.Namespace, ns), o.Spec.SourceRef.Name)
		}
	case *helmv2.HelmRelease:
		if r := o.Spec.ChartRef; r != nil && r.Name != "" {
			return join(r.Kind, or(r.Namespace, ns), r.Name)
		}
		if c := o.Spec.Chart; c != nil && c.Spec.SourceRef.Name != "" {
			return join(c.Spec.SourceRef.Kind, or(c.Spec.SourceRef.Namespace, ns), c.Spec.SourceRef.Name)
		}
	case *sourcev1.HelmChart:
		if o.Spec.SourceRef.Name != "" {
			return join(o.Spec.SourceRef.Kind, ns, o.Spec.SourceRef.Name)
		}
	case *imagev1.ImagePolicy:
		if r := o.Spec.ImageRepositoryRef; r.Name != "" {
			return join(imagev1.ImageRepositoryKind, or(r.Namespace, ns), r.Name)
		}
	case *imageautov1.ImageUpdateAutomation:
		if r := o.Spec.SourceRef; r.Name != "" {
			return join(or(r.Kind, sourcev1.GitRepositoryKind), or(r.Namespace, ns), r.Name)
		}
	}
	return join(kindOf(obj), ns, obj.GetName())
}

// kindOf is obj's kind: its Go type's name, since typed objects read from a cache often carry
// no TypeMeta.
func kindOf(obj client.Object) string {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func join(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// KeyIn is Key with the references Key cannot follow alone, read from r (the cache), so that
// an object lands with every source whose artifact it reads:
//
//   - a GitRepository whose spec.include names other GitRepositories keys where the first
//     included one does (the included artifacts are read from the local store);
//   - a consumer whose source is a GitRepository or a HelmChart keys where that source does:
//     a Kustomization of an including GitRepository, a HelmRelease whose chartRef names a
//     HelmChart (and so the chart's source), a HelmChart of a Git chart.
//
// References are followed at most maxHops deep; one that cannot be read yet (not in the cache)
// stops there, so the object keys by the reference's name and moves once it appears.
func KeyIn(ctx context.Context, r client.Reader, obj client.Object) string {
	key := Key(obj)
	if r == nil {
		return key
	}
	for range maxHops {
		var next client.Object
		if g, ok := obj.(*sourcev1.GitRepository); ok && len(g.Spec.Include) > 0 && g.Spec.Include[0].GitRepositoryRef.Name != "" {
			next = &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: g.Namespace, Name: g.Spec.Include[0].GitRepositoryRef.Name}}
		} else {
			kind, ns, name := split(key)
			if ns == obj.GetNamespace() && name == obj.GetName() && kind == kindOf(obj) {
				return key // the object's own key: nothing further to follow
			}
			switch kind {
			case sourcev1.GitRepositoryKind:
				next = &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			case sourcev1.HelmChartKind:
				next = &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			default:
				return key
			}
		}
		if err := r.Get(ctx, client.ObjectKeyFromObject(next), next); err != nil {
			return key
		}
		obj, key = next, Key(next)
	}
	return key
}

// maxHops bounds the references KeyIn follows (an include cycle ends there).
const maxHops = 4

// split is the kind, namespace and name of a key.
func split(key string) (kind, ns, name string) {
	kind, rest, _ := strings.Cut(key, "/")
	ns, name, _ = strings.Cut(rest, "/")
	return kind, ns, name
}
