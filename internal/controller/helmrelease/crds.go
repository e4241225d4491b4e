package helmrelease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/target"
)

// chartCRDs are the objects of the chart's crds/ directory.
func chartCRDs(ch *chart.Chart) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	if ch == nil {
		return nil, nil
	}
	for _, f := range ch.CRDObjects() {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(f.File.Data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("parse %s: %w", f.Filename, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// applyCRDs puts the chart's CRDs in place before an action, as Flux's policies say: Create
// creates the missing ones, CreateReplace also updates the existing ones (never deleting any).
// They are applied server-side as helm-controller and waited for until established.
func (r *Reconciler) applyCRDs(ctx context.Context, hr *helmv2.HelmRelease, ch *chart.Chart, policy helmv2.CRDsPolicy) error {
	crds, err := chartCRDs(ch)
	if err != nil {
		return fmt.Errorf("failed to read CRDs of chart %s: %w", ch.Name(), err)
	}
	if len(crds) == 0 || policy == helmv2.Skip {
		return nil
	}
	cl, err := r.Targets.For(ctx, target.Spec{Namespace: hr.Namespace, ServiceAccountName: hr.Spec.ServiceAccountName, KubeConfig: hr.Spec.KubeConfig})
	if err != nil {
		return err
	}
	todo := crds
	if policy == helmv2.Create {
		todo = nil
		for _, c := range crds {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(c.GroupVersionKind())
			err := cl.Get(ctx, client.ObjectKeyFromObject(c), live)
			switch {
			case apierrors.IsNotFound(err):
				todo = append(todo, c)
			case err != nil:
				return fmt.Errorf("failed to read CRD %s: %w", c.GetName(), err)
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	m := apply.NewManager(cl, apply.Options{FieldManager: compat.HelmFieldManager})
	if _, err := m.ApplyAllStaged(ctx, todo, apply.ApplyOptions{}); err != nil {
		return fmt.Errorf("failed to apply CRDs with policy %s: %w", policy, err)
	}
	return nil
}
