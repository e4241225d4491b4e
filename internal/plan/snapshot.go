package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/build"
)

// Unit kinds.
const (
	KindKustomization = kustomizev1.KustomizationKind
	KindHelmRelease   = helmv2.HelmReleaseKind
)

// originAnnotation is kustomize's record of the file an object came from.
const originAnnotation = "config.kubernetes.io/origin"

// Unit is one Kustomization or HelmRelease of a snapshot and what it applies.
type Unit struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Source is the unit's source (Kind/namespace/name); Path its spec.path, or its chart.
	Source string `json:"source,omitempty"`
	Path   string `json:"path,omitempty"`
	// Parent is the Kustomization whose build declares the unit ("" for the root), File the
	// file it is declared in, relative to the checkout.
	Parent string `json:"parent,omitempty"`
	File   string `json:"file,omitempty"`
	// DependsOn are the units it waits for (Kind/namespace/name).
	DependsOn []string `json:"dependsOn,omitempty"`
	// Objects are what it applies, with their files (relative to the checkout) in Files.
	Objects []*unstructured.Unstructured `json:"-"`
	Files   map[string]string            `json:"-"`
	// Err is why it could not be built ("" when it was); Unresolved says it is because its
	// source could not be read (reported, not a problem of the checkout).
	Err        string `json:"error,omitempty"`
	Unresolved bool   `json:"unresolved,omitempty"`

	spec  *kustomizev1.Kustomization
	hr    *helmv2.HelmRelease
	root  string // the source directory of a Kustomization
	level int
}

// ID is Kind/namespace/name.
func (u *Unit) ID() string { return u.Kind + "/" + u.Namespace + "/" + u.Name }

// Snapshot is what a checkout applies: its units in discovery order.
type Snapshot struct {
	Units []*Unit
	// Unresolved are sources the plan could not read (Kind/namespace/name → why).
	Unresolved map[string]string
	byID       map[string]*Unit
}

// Unit returns the unit id, or nil.
func (s *Snapshot) Unit(id string) *Unit { return s.byID[id] }

// Options configure discovery.
type Options struct {
	// Dir is the checkout.
	Dir string
	// Root is the root Kustomization; when nil, RootPath is built as Flux's bootstrap sync
	// Kustomization flux-system/flux-system of GitRepository flux-system/flux-system.
	Root *kustomizev1.Kustomization
	// RootPath is the root's path in the checkout (default ".").
	RootPath string
	// LocalSources maps sources (Kind/namespace/name) to directories; the root's source is
	// the checkout.
	LocalSources map[string]string
	// SelfURLs are the checkout's remote URLs: a GitRepository the repository declares with
	// one of them is the checkout too.
	SelfURLs []string
	// Concurrency bounds the builds run at once (default 8).
	Concurrency int
	// Charts fetches HelmRelease charts; nil leaves HelmReleases unrendered.
	Charts *Charts
	// Lookup, when set, resolves a substituteFrom or valuesFrom object, or a chart source,
	// missing from the repository (live mode: the cluster).
	Lookup func(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error)
	// Shallow builds the root alone: neither the Kustomizations it declares nor HelmReleases.
	Shallow bool
	// Source, when set, returns the directory of a source that is neither the checkout nor
	// in LocalSources (live mode: its artifact in the cluster, unpacked).
	Source func(ctx context.Context, kind, namespace, name string) (string, error)
}

// RootKustomization is the Kustomization Flux's bootstrap writes for path.
func RootKustomization(path string) *kustomizev1.Kustomization {
	ks := &kustomizev1.Kustomization{}
	ks.APIVersion, ks.Kind = kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind
	ks.Namespace, ks.Name = "flux-system", "flux-system"
	ks.Spec.Path, ks.Spec.Prune = path, true
	ks.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "flux-system"}
	return ks
}

// ReadKustomization reads the Kustomization name (or the only one) of a manifest file.
func ReadKustomization(file, name, namespace string) (*kustomizev1.Kustomization, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var found []*kustomizev1.Kustomization
	for _, doc := range strings.Split(string(data), "\n---") {
		var ks kustomizev1.Kustomization
		if err := yaml.Unmarshal([]byte(doc), &ks); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if ks.Kind != kustomizev1.KustomizationKind {
			continue
		}
		if ks.Namespace == "" {
			ks.Namespace = namespace
		}
		if name == "" || ks.Name == name {
			found = append(found, &ks)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%s: want one Kustomization named %q, found %d", file, name, len(found))
	}
	return found[0], nil
}

// sourceID is the Kind/namespace/name of a Kustomization's source.
func sourceID(ks *kustomizev1.Kustomization) string {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	return ks.Spec.SourceRef.Kind + "/" + ns + "/" + ks.Spec.SourceRef.Name
}

// discoverer builds one snapshot.
type discoverer struct {
	opts    Options
	sources map[string]string // source id → directory
	mu      sync.Mutex
	fetchMu sync.Mutex // one source fetch at a time
	snap    *Snapshot
	// objects are every object built so far, by Kind/namespace/name, for substituteFrom and
	// valuesFrom.
	objects map[string]*unstructured.Unstructured
}

// Discover builds the snapshot of opts.Dir: the root Kustomization, then level by level the
// Kustomizations each build declares, then the HelmReleases.
func Discover(ctx context.Context, opts Options) (*Snapshot, error) {
	if opts.Concurrency < 1 {
		opts.Concurrency = 8
	}
	root := opts.Root
	if root == nil {
		p := opts.RootPath
		if p == "" {
			p = "."
		}
		root = RootKustomization(p)
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	d := &discoverer{opts: opts, sources: map[string]string{sourceID(root): abs},
		snap: &Snapshot{Unresolved: map[string]string{}, byID: map[string]*Unit{}}, objects: map[string]*unstructured.Unstructured{}}
	for id, dir := range opts.LocalSources {
		if a, err := filepath.Abs(dir); err == nil {
			d.sources[id] = a
		}
	}
	level := []*Unit{d.add(&Unit{Kind: KindKustomization, Namespace: root.Namespace, Name: root.Name, spec: root})}
	for depth := 0; len(level) > 0; depth++ {
		if err := d.buildLevel(ctx, level); err != nil {
			return nil, err
		}
		if opts.Shallow {
			return d.snap, nil
		}
		var next []*Unit
		for _, u := range level {
			next = append(next, d.declared(u, depth+1)...)
		}
		level = next
	}
	// A substituteFrom object another Kustomization declares: build again with every object.
	var again []*Unit
	for _, u := range d.snap.Units {
		if u.Kind == KindKustomization && strings.Contains(u.Err, errNotInRepository) {
			again = append(again, u)
		}
	}
	if len(again) > 0 {
		if err := d.buildLevel(ctx, again); err != nil {
			return nil, err
		}
	}
	if err := d.renderReleases(ctx); err != nil {
		return nil, err
	}
	return d.snap, nil
}

// DiscoverRelease renders one HelmRelease as the controller would, with its chart and values
// read through opts (Lookup: the cluster).
func DiscoverRelease(ctx context.Context, opts Options, hr *helmv2.HelmRelease) (*Snapshot, error) {
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	d := &discoverer{opts: opts, sources: map[string]string{},
		snap: &Snapshot{Unresolved: map[string]string{}, byID: map[string]*Unit{}}, objects: map[string]*unstructured.Unstructured{}}
	d.add(&Unit{Kind: KindHelmRelease, Namespace: hr.Namespace, Name: hr.Name, hr: hr})
	if err := d.renderReleases(ctx); err != nil {
		return nil, err
	}
	return d.snap, nil
}

// add records u, once.
func (d *discoverer) add(u *Unit) *Unit {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.snap.byID[u.ID()]; ok {
		return prev
	}
	if u.spec != nil {
		u.Source, u.Path = sourceID(u.spec), u.spec.Spec.Path
		for _, dep := range u.spec.Spec.DependsOn {
			ns := dep.Namespace
			if ns == "" {
				ns = u.Namespace
			}
			u.DependsOn = append(u.DependsOn, KindKustomization+"/"+ns+"/"+dep.Name)
		}
	}
	d.snap.byID[u.ID()] = u
	d.snap.Units = append(d.snap.Units, u)
	return u
}

// buildLevel builds units concurrently within the bound.
func (d *discoverer) buildLevel(ctx context.Context, units []*Unit) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(d.opts.Concurrency)
	for _, u := range units {
		g.Go(func() error {
			d.buildKustomization(ctx, u)
			return ctx.Err()
		})
	}
	return g.Wait()
}

// errNotInRepository marks a substituteFrom object the repository does not declare (yet).
const errNotInRepository = "not found in the repository"

// buildKustomization runs the controller's pipeline for u over its source's directory.
func (d *discoverer) buildKustomization(ctx context.Context, u *Unit) {
	ks := u.spec
	root, err := d.source(ctx, ks)
	if err != nil {
		d.mu.Lock()
		d.snap.Unresolved[sourceID(ks)] = err.Error()
		d.mu.Unlock()
		u.Err = fmt.Sprintf("source %s is not available to the plan: %s", sourceID(ks), err)
		u.Unresolved = true
		return
	}
	u.root = root
	spec := ks.Spec.DeepCopy()
	// kustomize's origin annotations name each object's file; removed below unless asked for.
	keepOrigin := false
	for _, m := range spec.BuildMetadata {
		keepOrigin = keepOrigin || m == kustomizev1.BuildMetadataOriginAnnotations
	}
	if !keepOrigin {
		spec.BuildMetadata = append(spec.BuildMetadata, kustomizev1.BuildMetadataOriginAnnotations)
	}
	p := build.Pipeline{Spec: spec}
	if pb := spec.PostBuild; pb != nil {
		vars, err := d.vars(ctx, ks)
		if err != nil {
			u.Err = err.Error()
			return
		}
		p.Vars = vars
	}
	path := spec.Path
	if path == "" {
		path = "./"
	}
	objs, err := p.Run(ctx, root, "./"+strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+path)), "/"))
	if err != nil {
		u.Err = err.Error()
		return
	}
	u.Err = ""
	rel := relTo(d.opts.Dir, root)
	owner := apply.Owner{Name: ks.Name, Namespace: ks.Namespace}.Labels()
	u.Files = map[string]string{}
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range owner {
			labels[k] = v
		}
		o.SetLabels(labels)
		file := originFile(o, filepath.ToSlash(filepath.Join(rel, filepath.Clean("/" + path)[1:])))
		if !keepOrigin {
			a := o.GetAnnotations()
			delete(a, originAnnotation)
			if len(a) == 0 {
				a = nil
			}
			o.SetAnnotations(a)
		}
		u.Files[apply.ObjMetadataFor(o).Subject()] = file
	}
	u.Objects = objs
	self := d.opts.Dir
	if a, err := filepath.Abs(self); err == nil {
		self = a
	}
	d.mu.Lock()
	for _, o := range objs {
		d.objects[objectID(o)] = o
		if o.GetKind() == sourcev1.GitRepositoryKind && o.GroupVersionKind().Group == sourcev1.GroupVersion.Group {
			url, _, _ := unstructured.NestedString(o.Object, "spec", "url")
			id := objectID(o)
			if _, known := d.sources[id]; !known && sameRepository(url, d.opts.SelfURLs) {
				d.sources[id] = self
			}
		}
	}
	d.mu.Unlock()
}

// sameRepository reports whether url names one of the repositories of urls: host and path
// compared, without scheme, user, port or a .git suffix.
func sameRepository(url string, urls []string) bool {
	key := repoKey(url)
	for _, u := range urls {
		if key != "" && repoKey(u) == key {
			return true
		}
	}
	return false
}

func repoKey(url string) string {
	u := strings.TrimSpace(url)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if at := strings.Index(u, "@"); at >= 0 && strings.Contains(u[at:], ":") {
		// scp-like git@host:org/repo
		u = strings.Replace(u[at+1:], ":", "/", 1)
	}
	if at := strings.LastIndex(u, "@"); at >= 0 {
		u = u[at+1:]
	}
	host, path, _ := strings.Cut(u, "/")
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if host == "" || path == "" {
		return ""
	}
	return strings.ToLower(host + "/" + path)
}

// source returns the directory of ks's source: the checkout, a --local-sources directory,
// or what Options.Source fetches (once per source).
func (d *discoverer) source(ctx context.Context, ks *kustomizev1.Kustomization) (string, error) {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	return d.sourceDir(ctx, ks.Spec.SourceRef.Kind, ns, ks.Spec.SourceRef.Name)
}

// sourceDir returns the directory of the source kind/namespace/name.
func (d *discoverer) sourceDir(ctx context.Context, kind, namespace, name string) (string, error) {
	id := kind + "/" + namespace + "/" + name
	d.mu.Lock()
	dir, ok := d.sources[id]
	d.mu.Unlock()
	if ok {
		return dir, nil
	}
	if d.opts.Source == nil {
		return "", fmt.Errorf("not this repository and not in --local-sources")
	}
	d.fetchMu.Lock()
	defer d.fetchMu.Unlock()
	d.mu.Lock()
	dir, ok = d.sources[id]
	d.mu.Unlock()
	if ok {
		return dir, nil
	}
	dir, err := d.opts.Source(ctx, kind, namespace, name)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.sources[id] = dir
	d.mu.Unlock()
	return dir, nil
}

// originFile reads the file of o from kustomize's origin annotation (relative to the
// Kustomization's path dir), relative to the checkout.
func originFile(o *unstructured.Unstructured, dir string) string {
	var origin struct {
		Path string `json:"path"`
	}
	if err := yaml.Unmarshal([]byte(o.GetAnnotations()[originAnnotation]), &origin); err != nil || origin.Path == "" {
		return dir
	}
	return filepath.ToSlash(filepath.Clean(filepath.Join(dir, origin.Path)))
}

func relTo(base, dir string) string {
	ab, err1 := filepath.Abs(base)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return dir
	}
	if r, err := filepath.Rel(ab, ad); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return ad
}

func objectID(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// vars resolves postBuild as the controller does, reading substituteFrom objects from the
// repository's objects (or Lookup), strictly (Flux 2.9's default).
func (d *discoverer) vars(ctx context.Context, ks *kustomizev1.Kustomization) (build.Vars, error) {
	pb := ks.Spec.PostBuild
	vars := build.Vars{Substitute: pb.Substitute, Strategy: pb.SubstituteStrategy}
	for _, ref := range pb.SubstituteFrom {
		src := build.VarSource{Kind: ref.Kind, Name: ref.Name, Optional: ref.Optional, Data: map[string]string{}}
		obj, err := d.lookup(ctx, ref.Kind, ks.Namespace, ref.Name)
		if err != nil {
			return vars, err
		}
		if obj != nil {
			src.Found = true
			for k, v := range stringData(obj) {
				src.Data[k] = v
			}
		} else if !ref.Optional {
			return vars, fmt.Errorf("substitute from '%s/%s' failed: %s '%s/%s' %s", ref.Kind, ref.Name, ref.Kind, ks.Namespace, ref.Name, errNotInRepository)
		}
		vars.From = append(vars.From, src)
	}
	return vars, nil
}

// lookup finds an object of the repository, or asks Lookup.
func (d *discoverer) lookup(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error) {
	d.mu.Lock()
	obj := d.objects[kind+"/"+namespace+"/"+name]
	d.mu.Unlock()
	if obj != nil || d.opts.Lookup == nil {
		return obj, nil
	}
	return d.opts.Lookup(ctx, kind, namespace, name)
}

// stringData returns a ConfigMap's data or a Secret's data and stringData as strings.
func stringData(o *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	if m, ok := o.Object["data"].(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			if o.GetKind() == "Secret" {
				if b, err := decodeBase64(s); err == nil {
					s = b
				}
			}
			out[k] = s
		}
	}
	if m, ok := o.Object["stringData"].(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			out[k] = s
		}
	}
	return out
}

// declared returns the units u's build declares, new to the snapshot.
func (d *discoverer) declared(u *Unit, level int) []*Unit {
	var out []*Unit
	for _, o := range u.Objects {
		switch {
		case o.GroupVersionKind().Group == kustomizev1.GroupVersion.Group && o.GetKind() == kustomizev1.KustomizationKind:
			var ks kustomizev1.Kustomization
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ks); err != nil {
				continue
			}
			if ks.Namespace == "" {
				ks.Namespace = u.Namespace
			}
			n := &Unit{Kind: KindKustomization, Namespace: ks.Namespace, Name: ks.Name, spec: &ks, Parent: u.ID(),
				File: u.Files[apply.ObjMetadataFor(o).Subject()], level: level}
			if got := d.add(n); got == n {
				out = append(out, n)
			}
		case o.GroupVersionKind().Group == helmv2.GroupVersion.Group && o.GetKind() == helmv2.HelmReleaseKind:
			var hr helmv2.HelmRelease
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &hr); err != nil {
				continue
			}
			if hr.Namespace == "" {
				hr.Namespace = u.Namespace
			}
			n := &Unit{Kind: KindHelmRelease, Namespace: hr.Namespace, Name: hr.Name, hr: &hr, Parent: u.ID(),
				File: u.Files[apply.ObjMetadataFor(o).Subject()], level: level}
			for _, dep := range hr.Spec.DependsOn {
				ns := dep.Namespace
				if ns == "" {
					ns = hr.Namespace
				}
				n.DependsOn = append(n.DependsOn, KindHelmRelease+"/"+ns+"/"+dep.Name)
			}
			d.add(n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}
