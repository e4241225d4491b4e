package plan

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/controller/helmrelease"
	"github.com/weirgitops/weir/internal/source/helm"
	"github.com/weirgitops/weir/internal/source/oci"
)

// maxChart bounds a chart download.
const maxChart = helm.DefaultMaxChartSize

// Charts fetches HelmRelease charts from the sources a snapshot declares (HelmRepository over
// HTTP(S) or OCI, OCIRepository, a chart directory in the checkout), each once.
type Charts struct {
	mu    sync.Mutex
	cache map[string]*chartResult
}

type chartResult struct {
	once  sync.Once
	chart *chart.Chart
	err   error
}

// get loads the chart of key once.
func (c *Charts) get(key string, load func() (*chart.Chart, error)) (*chart.Chart, error) {
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]*chartResult{}
	}
	r, ok := c.cache[key]
	if !ok {
		r = &chartResult{}
		c.cache[key] = r
	}
	c.mu.Unlock()
	r.once.Do(func() { r.chart, r.err = load() })
	return r.chart, r.err
}

// renderReleases renders every HelmRelease unit, in parallel within the bound.
func (d *discoverer) renderReleases(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(d.opts.Concurrency)
	mapper := d.restMapper()
	for _, u := range d.snap.Units {
		if u.Kind != KindHelmRelease {
			continue
		}
		g.Go(func() error {
			d.renderRelease(ctx, u, mapper)
			return ctx.Err()
		})
	}
	return g.Wait()
}

// offlineConfig is a REST configuration no request is ever made with: Helm renders with a
// client-side dry run.
var offlineConfig = &rest.Config{Host: "https://weir-plan.invalid"}

func (d *discoverer) renderRelease(ctx context.Context, u *Unit, mapper meta.RESTMapper) {
	hr := u.hr
	if d.opts.Charts == nil {
		u.Err = "charts are not fetched (no chart resolver)"
		return
	}
	ch, src, err := d.chart(ctx, hr)
	u.Source = src
	if err != nil {
		u.Err = err.Error()
		return
	}
	u.Path = ch.Name() + "@" + ch.Metadata.Version
	_, objs, err := helmrelease.Render(ctx, objectReader{d: d}, offlineConfig, mapper, hr, ch, "")
	if err != nil {
		u.Err = err.Error()
		return
	}
	u.Files = map[string]string{}
	for _, o := range objs {
		u.Files[apply.ObjMetadataFor(o).Subject()] = u.File
	}
	u.Objects = objs
}

// chart returns hr's chart and its source's id.
func (d *discoverer) chart(ctx context.Context, hr *helmv2.HelmRelease) (*chart.Chart, string, error) {
	if ref := hr.Spec.ChartRef; ref != nil {
		ns := ref.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		id := ref.Kind + "/" + ns + "/" + ref.Name
		obj, err := d.lookup(ctx, ref.Kind, ns, ref.Name)
		if err != nil || obj == nil {
			return nil, id, fmt.Errorf("chart source %s %s", id, errNotInRepository)
		}
		switch ref.Kind {
		case sourcev1.OCIRepositoryKind:
			var repo sourcev1.OCIRepository
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &repo); err != nil {
				return nil, id, err
			}
			r := oci.Ref{}
			if repo.Spec.Reference != nil {
				r = oci.Ref{Digest: repo.Spec.Reference.Digest, SemVer: repo.Spec.Reference.SemVer,
					SemverFilter: repo.Spec.Reference.SemverFilter, Tag: repo.Spec.Reference.Tag}
			}
			ch, err := d.opts.Charts.get(id+"@"+fmt.Sprint(r), func() (*chart.Chart, error) {
				ch, revision, err := pullChart(ctx, repo.Spec.URL, r, repo.Spec.Insecure)
				if err != nil {
					return nil, err
				}
				// Released with the digest in its version, as the controller does (Flux's
				// digest tracking).
				tracked, md := *ch, *ch.Metadata
				md.Version = helmrelease.DigestVersion(md.Version, revision)
				tracked.Metadata = &md
				return &tracked, nil
			})
			return ch, id, err
		case sourcev1.HelmChartKind:
			var hc sourcev1.HelmChart
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &hc); err != nil {
				return nil, id, err
			}
			ch, _, err := d.templateChart(ctx, ns, hc.Spec.Chart, hc.Spec.Version, hc.Spec.SourceRef.Kind, hc.Spec.SourceRef.Name)
			return ch, id, err
		}
		return nil, id, fmt.Errorf("chart source %s: kind %s is not read by the plan", id, ref.Kind)
	}
	if hr.Spec.Chart == nil {
		return nil, "", errors.New("neither spec.chart nor spec.chartRef")
	}
	s := hr.Spec.Chart.Spec
	ns := s.SourceRef.Namespace
	if ns == "" {
		ns = hr.Namespace
	}
	return d.templateChart(ctx, ns, s.Chart, s.Version, s.SourceRef.Kind, s.SourceRef.Name)
}

// templateChart loads a chart named by a chart template: from a HelmRepository (HTTP index or
// OCI) or a directory of a GitRepository or Bucket the plan has locally.
func (d *discoverer) templateChart(ctx context.Context, ns, chartName, version, kind, srcName string) (*chart.Chart, string, error) {
	id := kind + "/" + ns + "/" + srcName
	if version == "" {
		version = "*"
	}
	switch kind {
	case sourcev1.HelmRepositoryKind:
		obj, err := d.lookup(ctx, kind, ns, srcName)
		if err != nil || obj == nil {
			return nil, id, fmt.Errorf("chart source %s %s", id, errNotInRepository)
		}
		var repo sourcev1.HelmRepository
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &repo); err != nil {
			return nil, id, err
		}
		ch, err := d.opts.Charts.get(id+"/"+chartName+"@"+version, func() (*chart.Chart, error) {
			if repo.Spec.Type == sourcev1.HelmRepositoryTypeOCI {
				r := oci.Ref{SemVer: version}
				if !strings.ContainsAny(version, "*^~<>=| ,xX") {
					r = oci.Ref{Tag: version}
				}
				ch, _, err := pullChart(ctx, strings.TrimSuffix(repo.Spec.URL, "/")+"/"+chartName, r, repo.Spec.Insecure)
				return ch, err
			}
			cl := helm.Client{UserAgent: "weir-plan"}
			idx, err := cl.FetchIndex(ctx, repo.Spec.URL, helm.DefaultMaxIndexSize)
			if err != nil {
				return nil, fmt.Errorf("fetch the index of %s: %w", id, err)
			}
			parsed, err := helm.ParseIndex(idx)
			if err != nil {
				return nil, fmt.Errorf("index of %s: %w", id, err)
			}
			cv, err := helm.ChartVersion(parsed, chartName, version)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			_, ch, err := cl.FetchChart(ctx, repo.Spec.URL, cv, maxChart)
			return ch, err
		})
		return ch, id, err
	case sourcev1.GitRepositoryKind, sourcev1.BucketKind:
		dir, err := d.sourceDir(ctx, kind, ns, srcName)
		if err != nil {
			return nil, id, fmt.Errorf("chart source %s: %w", id, err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+chartName))
		ch, err := d.opts.Charts.get("dir:"+p, func() (*chart.Chart, error) { return helm.LoadDir(p) })
		return ch, id, err
	}
	return nil, id, fmt.Errorf("chart source kind %s is not read by the plan", kind)
}

// pullChart pulls a chart pushed with helm push (or flux push artifact) from url (oci://…),
// and returns it with its revision (<tag>@sha256:<hex>).
func pullChart(ctx context.Context, url string, ref oci.Ref, insecure bool) (*chart.Chart, string, error) {
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(strings.TrimPrefix(url, "oci://"), nopts...)
	if err != nil {
		return nil, "", fmt.Errorf("invalid OCI URL %q: %w", url, err)
	}
	opts := oci.Options{Insecure: insecure, UserAgent: "weir-plan"}
	res, err := oci.Resolve(ctx, repo, ref, opts)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", url, err)
	}
	a, err := oci.Pull(ctx, res, oci.HelmChartContentMediaType, oci.Limits{}, opts)
	if err != nil {
		return nil, "", fmt.Errorf("pull %s: %w", url, err)
	}
	rc, err := a.Open()
	if err != nil {
		return nil, "", fmt.Errorf("pull %s: %w", url, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, maxChart+1))
	if err != nil {
		return nil, "", fmt.Errorf("pull %s: %w", url, err)
	}
	if int64(len(data)) > maxChart {
		return nil, "", fmt.Errorf("chart at %s exceeds %d bytes", url, maxChart)
	}
	ch, err := helm.LoadArchive(data)
	return ch, res.Revision(), err
}

// restMapper knows the built-in kinds and the CustomResourceDefinitions of the snapshot, so
// that rendered objects are placed in the release namespace when they are namespaced.
func (d *discoverer) restMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	for gvk := range scheme.Scheme.AllKnownTypes() {
		scope := meta.RESTScopeNamespace
		if clusterScoped[gvk.Kind] {
			scope = meta.RESTScopeRoot
		}
		m.Add(gvk, scope)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.objects {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scopeName, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		scope := meta.RESTScopeNamespace
		if scopeName == "Cluster" {
			scope = meta.RESTScopeRoot
		}
		for _, v := range versions {
			if vm, ok := v.(map[string]any); ok {
				ver, _ := vm["name"].(string)
				m.Add(schema.GroupVersionKind{Group: group, Version: ver, Kind: kind}, scope)
			}
		}
	}
	return m
}

// clusterScoped are the built-in cluster-scoped kinds.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "APIService": true,
	"CSIDriver": true, "CSINode": true, "RuntimeClass": true, "VolumeAttachment": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "CertificateSigningRequest": true,
	"ComponentStatus": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
}

// objectReader reads the ConfigMaps and Secrets of the snapshot (or Lookup) for valuesFrom.
type objectReader struct{ d *discoverer }

// Get reads a ConfigMap or Secret.
func (r objectReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	var kind string
	switch obj.(type) {
	case *corev1.ConfigMap:
		kind = "ConfigMap"
	case *corev1.Secret:
		kind = "Secret"
	default:
		return fmt.Errorf("plan reads only ConfigMaps and Secrets, not %T", obj)
	}
	u, err := r.d.lookup(ctx, kind, key.Namespace, key.Name)
	if err != nil {
		return err
	}
	if u == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: strings.ToLower(kind) + "s"}, key.Name)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return err
	}
	if s, ok := obj.(*corev1.Secret); ok {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	return nil
}

// List is not used by valuesFrom.
func (r objectReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("plan does not list objects")
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
