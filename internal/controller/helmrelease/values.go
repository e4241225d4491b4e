package helmrelease

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/strvals"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// composeValues merges spec.valuesFrom and spec.values in Flux's order: valuesFrom entries in
// list order (later wins); an entry with targetPath is set at that path (helm --set syntax,
// --set-literal with literal) after the inline values are merged in; the inline values are
// merged last.
func composeValues(ctx context.Context, c client.Reader, hr *helmv2.HelmRelease) (map[string]any, error) {
	return ComposeValues(ctx, c, hr, false)
}

// Masked replaces every value read from a Secret when ComposeValues masks them.
const Masked = "****"

// ComposeValues returns the values the controller would release with (see composeValues);
// with maskSecrets, every leaf value read from a Secret is Masked, for display.
func ComposeValues(ctx context.Context, c client.Reader, hr *helmv2.HelmRelease, maskSecrets bool) (map[string]any, error) {
	out := map[string]any{}
	inline := hr.GetValues()
	for _, ref := range hr.Spec.ValuesFrom {
		key := ref.GetValuesKey()
		var data []byte
		found := false
		switch ref.Kind {
		case "ConfigMap":
			var cm corev1.ConfigMap
			err := c.Get(ctx, client.ObjectKey{Namespace: hr.Namespace, Name: ref.Name}, &cm)
			if err != nil && (!apierrors.IsNotFound(err) || !ref.Optional) {
				return nil, fmt.Errorf("could not find %s '%s/%s'", ref.Kind, hr.Namespace, ref.Name)
			}
			if err == nil {
				var v string
				v, found = cm.Data[key]
				data = []byte(v)
			}
		case "Secret":
			var s corev1.Secret
			err := c.Get(ctx, client.ObjectKey{Namespace: hr.Namespace, Name: ref.Name}, &s)
			if err != nil && (!apierrors.IsNotFound(err) || !ref.Optional) {
				return nil, fmt.Errorf("could not find %s '%s/%s'", ref.Kind, hr.Namespace, ref.Name)
			}
			if err == nil {
				data, found = s.Data[key]
			}
		default:
			return nil, fmt.Errorf("unsupported ValuesReference kind '%s'", ref.Kind)
		}
		if !found {
			if ref.Optional {
				continue
			}
			return nil, fmt.Errorf("missing key '%s' in %s '%s/%s'", key, ref.Kind, hr.Namespace, ref.Name)
		}
		secret := ref.Kind == "Secret" && maskSecrets
		if ref.TargetPath != "" {
			out = loader.MergeMaps(out, inline)
			if secret {
				data = []byte(Masked)
			}
			expr := ref.TargetPath + "=" + string(data)
			var err error
			if ref.Literal {
				err = strvals.ParseLiteralInto(expr, out)
			} else {
				err = strvals.ParseInto(expr, out)
			}
			if err != nil {
				return nil, fmt.Errorf("unable to merge value from key '%s' in %s '%s/%s' into target path '%s': %w",
					key, ref.Kind, hr.Namespace, ref.Name, ref.TargetPath, err)
			}
			continue
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("unable to read values from key '%s' in %s '%s/%s': %w", key, ref.Kind, hr.Namespace, ref.Name, err)
		}
		if secret {
			maskLeaves(v)
		}
		out = loader.MergeMaps(out, v)
	}
	return loader.MergeMaps(out, inline), nil
}

// maskLeaves replaces every leaf value of m (in nested maps and lists too) with Masked.
func maskLeaves(m map[string]any) {
	for k, v := range m {
		m[k] = maskValue(v)
	}
}

func maskValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		maskLeaves(t)
		return t
	case []any:
		for i := range t {
			t[i] = maskValue(t[i])
		}
		return t
	}
	return Masked
}
