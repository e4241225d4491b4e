package shard

import (
	"context"
	"reflect"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
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

// KeyIn is Key with the references Key cannot follow alone, read from r (the cache): a
// HelmRelease whose chartRef names a HelmChart keys where that HelmChart does (its source's),
// so that the release, its chart and the chart's source land on one replica. Without r, or
// when the HelmChart cannot be read yet, it is Key.
func KeyIn(ctx context.Context, r client.Reader, obj client.Object) string {
	if hr, ok := obj.(*helmv2.HelmRelease); ok && r != nil {
		if ref := hr.Spec.ChartRef; ref != nil && ref.Kind == sourcev1.HelmChartKind && ref.Name != "" {
			chart := &sourcev1.HelmChart{}
			if err := r.Get(ctx, client.ObjectKey{Namespace: or(ref.Namespace, hr.Namespace), Name: ref.Name}, chart); err == nil {
				return Key(chart)
			}
		}
	}
	return Key(obj)
}
