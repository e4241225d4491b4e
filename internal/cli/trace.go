package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/redact"
)

// Labels helm-controller puts on the objects of a release.
const (
	helmNameLabel      = "helm.toolkit.fluxcd.io/name"
	helmNamespaceLabel = "helm.toolkit.fluxcd.io/namespace"
)

func newTraceCommand(g *globals) *cobra.Command {
	var kind, apiVersion string
	cmd := &cobra.Command{
		Use:   "trace <resource> <name> [<name> ...]",
		Short: "Trace an in-cluster object throughout the GitOps delivery pipeline",
		Long: "The trace command shows how one or more objects are managed: by which Kustomization or HelmRelease, " +
			"from which source and revision, and their latest status. Objects are named as flux names them: " +
			"<resource> <name>..., <resource>/<name>..., or <name> with --kind (and --api-version).",
		Example: `  # Trace a Deployment
  weir trace -n apps deployment podinfo

  # Trace a Pod and a ConfigMap
  weir trace -n redis pod/redis-master-0 cm/redis

  # Trace a cluster-scoped object
  weir trace namespace redis

  # Kind and API version given explicitly
  weir trace podinfo --kind=Deployment --api-version=apps/v1 -n apps`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cfg, err := g.restConfig()
			if err != nil {
				return err
			}
			mapper := c.RESTMapper()
			if dc, err := discovery.NewDiscoveryClientForConfig(cfg); err == nil {
				// Short names (cm, deploy, hr, ks) as kubectl and flux accept them.
				mapper = restmapper.NewShortcutExpander(mapper, memory.NewMemCacheClient(dc), func(string) {})
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			targets, err := traceTargets(mapper, kind, apiVersion, args)
			if err != nil {
				return err
			}
			for i, t := range targets {
				if i > 0 {
					fmt.Fprintln(g.out)
				}
				obj := &unstructured.Unstructured{}
				obj.SetGroupVersionKind(t.gvk)
				ns := g.namespace
				if m, err := mapper.RESTMapping(t.gvk.GroupKind(), t.gvk.Version); err == nil && m.Scope.Name() != "namespace" {
					ns = ""
				}
				if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.name}, obj); err != nil {
					return fmt.Errorf("get %s %s: %w", t.gvk.Kind, client.ObjectKey{Namespace: ns, Name: t.name}, err)
				}
				if err := trace(ctx, g.out, c, obj); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "the Kubernetes object kind, e.g. Deployment")
	cmd.Flags().StringVar(&apiVersion, "api-version", "", "the Kubernetes object API version, e.g. apps/v1")
	return cmd
}

// traceTarget is one object to trace.
type traceTarget struct {
	gvk  schema.GroupVersionKind
	name string
}

// traceTargets reads the arguments as flux does: names with --kind; "<resource>/<name>" each;
// or "<resource> <name> [<name> ...]".
func traceTargets(mapper meta.RESTMapper, kind, apiVersion string, args []string) ([]traceTarget, error) {
	var out []traceTarget
	add := func(kind, name string) error {
		gvk, err := traceGVK(mapper, kind, apiVersion)
		if err != nil {
			return err
		}
		out = append(out, traceTarget{gvk: gvk, name: name})
		return nil
	}
	switch {
	case kind != "":
		for _, a := range args {
			if err := add(kind, a); err != nil {
				return nil, err
			}
		}
	case !strings.Contains(args[0], "/"):
		if len(args) < 2 {
			return nil, fmt.Errorf("object kind is required: <resource> <name>, <resource>/<name> or --kind")
		}
		for _, a := range args[1:] {
			if err := add(args[0], a); err != nil {
				return nil, err
			}
		}
	default:
		for _, a := range args {
			k, n, ok := strings.Cut(a, "/")
			if !ok || k == "" || n == "" {
				return nil, fmt.Errorf("invalid object %q: want <resource>/<name>", a)
			}
			if err := add(k, n); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// traceGVK resolves a resource or kind name (plural, singular, short name or Kind), with
// --api-version when given.
func traceGVK(mapper meta.RESTMapper, kind, apiVersion string) (schema.GroupVersionKind, error) {
	if apiVersion != "" {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return schema.GroupVersionKind{}, fmt.Errorf("invalid --api-version %q: %w", apiVersion, err)
		}
		if m, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: kind}, gv.Version); err == nil {
			return m.GroupVersionKind, nil
		}
		return gv.WithKind(kind), nil
	}
	gvk, err := mapper.KindFor(schema.GroupVersionResource{Resource: strings.ToLower(kind)})
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("unknown kind %q: %w", kind, err)
	}
	return gvk, nil
}

// section prints "Label:" lines aligned as flux does (values at column 17).
type section struct {
	w io.Writer
}

func (s section) line(label, value string) {
	fmt.Fprintf(s.w, "%-16s%s\n", label+":", value)
}

func (s section) status(u *unstructured.Unstructured) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != compat.ReadyCondition {
			continue
		}
		ts, _ := m["lastTransitionTime"].(string)
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			ts = t.Format("2006-01-02 15:04:05 -0700 MST")
		}
		s.line("Status", "Last reconciled at "+ts)
		msg, _ := m["message"].(string)
		s.line("Message", msg)
		return
	}
	s.line("Status", "Unknown")
}

func trace(ctx context.Context, w io.Writer, c client.Client, obj *unstructured.Unstructured) error {
	labels := obj.GetLabels()
	s := section{w}
	ref := fmt.Sprintf("%s %s", obj.GetKind(), client.ObjectKeyFromObject(obj))
	var owner *unstructured.Unstructured
	var ownerKind *fluxKind
	var err error
	switch {
	case labels[compat.KustomizeNameLabel] != "":
		ownerKind = ksKind
		owner, err = getObject(ctx, c, ksKind, labels[compat.KustomizeNamespaceLabel], labels[compat.KustomizeNameLabel])
	case labels[helmNameLabel] != "":
		ownerKind = hrKind
		owner, err = getObject(ctx, c, hrKind, labels[helmNamespaceLabel], labels[helmNameLabel])
	default:
		return fmt.Errorf("%s is not managed by Flux", ref)
	}
	if err != nil {
		return fmt.Errorf("find the manager of %s: %w", ref, err)
	}
	s.line("Object", obj.GetKind()+"/"+obj.GetName())
	if obj.GetNamespace() != "" {
		s.line("Namespace", obj.GetNamespace())
	}
	s.line("Status", "Managed by Flux")
	fmt.Fprintln(w, "---")
	s.line(ownerKind.Kind, owner.GetName())
	s.line("Namespace", owner.GetNamespace())
	if t, _, _ := unstructured.NestedString(owner.Object, "spec", "targetNamespace"); t != "" {
		s.line("Target", t)
	}
	var srcRef map[string]any
	if ownerKind == ksKind {
		p, _, _ := unstructured.NestedString(owner.Object, "spec", "path")
		s.line("Path", p)
		srcRef, _, _ = unstructured.NestedMap(owner.Object, "spec", "sourceRef")
	} else {
		srcRef, _, _ = unstructured.NestedMap(owner.Object, "spec", "chartRef")
		if srcRef == nil {
			srcRef, _, _ = unstructured.NestedMap(owner.Object, "spec", "chart", "spec", "sourceRef")
		}
	}
	s.line("Revision", ownerKind.Revision(owner))
	s.status(owner)

	if ownerKind == hrKind {
		if chart := helmChartOf(ctx, c, owner, srcRef); chart != nil {
			fmt.Fprintln(w, "---")
			s.line("HelmChart", chart.GetName())
			s.line("Namespace", chart.GetNamespace())
			ch, _, _ := unstructured.NestedString(chart.Object, "spec", "chart")
			v, _, _ := unstructured.NestedString(chart.Object, "spec", "version")
			s.line("Chart", ch)
			s.line("Version", v)
			s.line("Revision", artifactRevision(chart))
			s.status(chart)
		}
	}
	kind, _ := srcRef["kind"].(string)
	name, _ := srcRef["name"].(string)
	ns, _ := srcRef["namespace"].(string)
	if ns == "" {
		ns = owner.GetNamespace()
	}
	sk, ok := kindByName(kind)
	if !ok {
		return nil
	}
	src, err := getObject(ctx, c, sk, ns, name)
	if err != nil {
		return fmt.Errorf("find the source of %s %s/%s: %w", ownerKind.Kind, owner.GetNamespace(), owner.GetName(), err)
	}
	fmt.Fprintln(w, "---")
	s.line(sk.Kind, src.GetName())
	s.line("Namespace", src.GetNamespace())
	if u, _, _ := unstructured.NestedString(src.Object, "spec", "url"); u != "" {
		s.line("URL", redact.URL(u))
	}
	if e, _, _ := unstructured.NestedString(src.Object, "spec", "endpoint"); e != "" {
		b, _, _ := unstructured.NestedString(src.Object, "spec", "bucketName")
		s.line("Endpoint", e)
		s.line("Bucket", b)
	}
	ref2, _, _ := unstructured.NestedStringMap(src.Object, "spec", "ref")
	for _, k := range []struct{ key, label string }{{"branch", "Branch"}, {"tag", "Tag"}, {"semver", "Tag"}, {"commit", "Commit"}, {"digest", "Digest"}, {"name", "Ref"}} {
		if v := ref2[k.key]; v != "" {
			s.line(k.label, v)
			break
		}
	}
	s.line("Revision", artifactRevision(src))
	s.status(src)
	return nil
}

// helmChartOf returns the HelmChart helm-controller made for a HelmRelease, when it uses one.
func helmChartOf(ctx context.Context, c client.Client, hr *unstructured.Unstructured, srcRef map[string]any) *unstructured.Unstructured {
	if _, ok, _ := unstructured.NestedMap(hr.Object, "spec", "chartRef"); ok {
		return nil
	}
	ns, _ := srcRef["namespace"].(string)
	if ns == "" {
		ns = hr.GetNamespace()
	}
	name := hr.GetNamespace() + "-" + hr.GetName()
	if s, _, _ := unstructured.NestedString(hr.Object, "status", "helmChart"); s != "" {
		if n, m, ok := strings.Cut(s, "/"); ok {
			ns, name = n, m
		}
	}
	chart, err := getObject(ctx, c, chartKind, ns, name)
	if err != nil {
		return nil
	}
	return chart
}
