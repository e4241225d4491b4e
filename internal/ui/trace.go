package ui

import (
	"context"
	"net/http"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/health"
	"github.com/weirgitops/weir/internal/plan"
)

// SourceFetcher unpacks the artifact of a source into a directory, removed by cleanup.
type SourceFetcher func(ctx context.Context, kind, namespace, name string) (dir string, cleanup func(), err error)

// maxTraced bounds the managed objects read per applier.
const maxTraced = 200

// Managed is an object an applier manages, with its health.
type Managed struct {
	Kind      string `json:"kind"`
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Health    string `json:"health"`
	Message   string `json:"message,omitempty"`
}

// trace follows a revision (a commit hash or an OCI digest, or a prefix of one) from the
// sources that fetched it to the Kustomizations and HelmReleases that applied it, and the
// objects they manage with their health.
func (srv *Server) trace(w http.ResponseWriter, r *http.Request, _ *Session) {
	rev := strings.TrimSpace(r.URL.Query().Get("revision"))
	if len(rev) < 7 {
		writeError(w, http.StatusBadRequest, "give at least 7 characters of a commit hash or digest")
		return
	}
	ctx := r.Context()
	sources := []Summary{}
	matched := map[string]bool{}
	for _, k := range Kinds {
		if k.Category != "sources" {
			continue
		}
		items, err := srv.listKind(ctx, k)
		if err != nil {
			continue
		}
		for i := range items {
			s := summarize(&items[i])
			if revisionHas(s.Revision, rev) {
				sources = append(sources, s)
				matched[s.ID()] = true
			}
		}
	}
	type applied struct {
		Summary
		Objects []Managed `json:"objects"`
	}
	appliers := []applied{}
	for _, name := range []string{"Kustomization", "HelmRelease"} {
		k, _ := kindByName(name)
		items, err := srv.listKind(ctx, k)
		if err != nil {
			continue
		}
		for i := range items {
			u := &items[i]
			s := summarize(u)
			if !matched[s.Source] && !revisionHas(s.Revision, rev) && !historyHas(u, rev) {
				continue
			}
			inv, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
			appliers = append(appliers, applied{Summary: s, Objects: srv.managed(ctx, inventoryIDs(inv))})
		}
	}
	writeJSON(w, map[string]any{"revision": rev, "sources": sources, "appliers": appliers})
}

// revisionHas reports whether a Flux revision (main@sha1:<hex>, <tag>@sha256:<hex>, a chart
// version) names the commit or digest rev.
func revisionHas(revision, rev string) bool {
	if revision == "" {
		return false
	}
	i := strings.LastIndex(revision, ":")
	return strings.HasPrefix(revision[i+1:], strings.TrimPrefix(strings.TrimPrefix(rev, "sha256:"), "sha1:"))
}

// historyHas reports whether a HelmRelease's latest release came from an OCI digest rev.
func historyHas(u *unstructured.Unstructured, rev string) bool {
	hist, _, _ := unstructured.NestedSlice(u.Object, "status", "history")
	if len(hist) == 0 {
		return false
	}
	h, _ := hist[0].(map[string]any)
	d, _ := h["ociDigest"].(string)
	return revisionHas(d, rev)
}

// managed reads the inventory's objects (at most maxTraced) and their kstatus health; Secrets
// are read for their existence only.
func (srv *Server) managed(ctx context.Context, inv []map[string]string) []Managed {
	out := []Managed{}
	for i, e := range inv {
		m := Managed{Kind: e["kind"], Group: e["group"], Version: e["version"], Namespace: e["namespace"], Name: e["name"]}
		if i >= maxTraced {
			m.Health = "not read"
			out = append(out, m)
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: m.Group, Version: m.Version, Kind: m.Kind})
		err := srv.opts.APIReader.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Name}, u)
		switch {
		case client.IgnoreNotFound(err) != nil:
			m.Health, m.Message = "Unknown", "cannot be read"
		case err != nil:
			m.Health = string(health.NotFound)
		default:
			res, herr := health.Status(u)
			if herr != nil {
				m.Health, m.Message = "Unknown", herr.Error()
			} else {
				m.Health, m.Message = string(res.Status), res.Message
			}
		}
		out = append(out, m)
	}
	return out
}

// owner goes back from any object in the cluster to the Kustomization or HelmRelease that
// applied it, its source, the revision, and (for a Kustomization whose source can be read)
// the file that declares the object.
func (srv *Server) owner(w http.ResponseWriter, r *http.Request, _ *Session) {
	q := r.URL.Query()
	gv, err := schema.ParseGroupVersion(q.Get("apiVersion"))
	if err != nil || q.Get("kind") == "" || q.Get("name") == "" {
		writeError(w, http.StatusBadRequest, "apiVersion, kind and name are required")
		return
	}
	ctx := r.Context()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gv.WithKind(q.Get("kind")))
	if err := srv.opts.APIReader.Get(ctx, client.ObjectKey{Namespace: q.Get("namespace"), Name: q.Get("name")}, u); err != nil {
		writeError(w, http.StatusNotFound, "object not found")
		return
	}
	res, _ := health.Status(u)
	out := map[string]any{"object": Managed{Kind: u.GetKind(), Group: gv.Group, Version: gv.Version, Namespace: u.GetNamespace(),
		Name: u.GetName(), Health: string(res.Status), Message: res.Message}}
	l := u.GetLabels()
	var applier *unstructured.Unstructured
	switch {
	case l["kustomize.toolkit.fluxcd.io/name"] != "":
		applier = srv.get(ctx, "Kustomization", l["kustomize.toolkit.fluxcd.io/namespace"], l["kustomize.toolkit.fluxcd.io/name"])
	case l["helm.toolkit.fluxcd.io/name"] != "":
		applier = srv.get(ctx, "HelmRelease", l["helm.toolkit.fluxcd.io/namespace"], l["helm.toolkit.fluxcd.io/name"])
	}
	if applier == nil {
		out["message"] = "no Kustomization or HelmRelease applied this object"
		writeJSON(w, out)
		return
	}
	s := summarize(applier)
	out["applier"] = s
	if parts := strings.SplitN(s.Source, "/", 3); len(parts) == 3 {
		if src := srv.get(ctx, parts[0], parts[1], parts[2]); src != nil {
			out["source"] = summarize(src)
			if url, _, _ := unstructured.NestedString(src.Object, "spec", "url"); url != "" {
				out["url"] = url
			}
		}
	}
	if file := srv.declaringFile(ctx, applier, u); file != "" {
		out["file"] = file
	}
	writeJSON(w, out)
}

// get reads a Flux object from the cache, or nil.
func (srv *Server) get(ctx context.Context, kind, namespace, name string) *unstructured.Unstructured {
	k, ok := kindByName(kind)
	if !ok {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.GVK())
	if err := srv.opts.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		return nil
	}
	return u
}

// declaringFile builds a Kustomization from its source's artifact with the plan (kustomize's
// origin annotations) and returns the file declaring obj, relative to the source's root.
func (srv *Server) declaringFile(ctx context.Context, applier, obj *unstructured.Unstructured) string {
	if srv.opts.Sources == nil || applier.GetKind() != "Kustomization" {
		return ""
	}
	var ks kustomizev1.Kustomization
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(applier.Object, &ks); err != nil {
		return ""
	}
	snap, cleanup, err := srv.buildOne(ctx, &ks)
	if err != nil {
		return ""
	}
	defer cleanup()
	u := snap.Unit("Kustomization/" + ks.Namespace + "/" + ks.Name)
	if u == nil {
		return ""
	}
	return u.Files[apply.ObjMetadataFor(obj).Subject()]
}

// buildOne builds a Kustomization alone, from its source's artifact, as the controller does.
func (srv *Server) buildOne(ctx context.Context, ks *kustomizev1.Kustomization) (*plan.Snapshot, func(), error) {
	ns := ks.Spec.SourceRef.Namespace
	if ns == "" {
		ns = ks.Namespace
	}
	dir, cleanup, err := srv.opts.Sources(ctx, ks.Spec.SourceRef.Kind, ns, ks.Spec.SourceRef.Name)
	if err != nil {
		return nil, nil, err
	}
	snap, err := plan.Discover(ctx, plan.Options{Dir: dir, Root: ks, Shallow: true, Lookup: srv.lookup})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return snap, cleanup, nil
}

// lookup resolves substituteFrom, valuesFrom and chart sources from the cluster.
func (srv *Server) lookup(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if k, ok := kindByName(kind); ok {
		u.SetGroupVersionKind(k.GVK())
	} else {
		u.SetAPIVersion("v1")
		u.SetKind(kind)
	}
	if err := srv.opts.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return u, nil
}

// diff shows how the live objects of a Kustomization or HelmRelease differ from what it
// declares at its source's current revision (drift), through server-side dry runs.
func (srv *Server) diff(w http.ResponseWriter, r *http.Request, _ *Session) {
	q := r.URL.Query()
	ctx := r.Context()
	u := srv.get(ctx, q.Get("kind"), q.Get("namespace"), q.Get("name"))
	if u == nil {
		writeError(w, http.StatusNotFound, "object not found")
		return
	}
	var snap *plan.Snapshot
	var err error
	switch u.GetKind() {
	case "Kustomization":
		if srv.opts.Sources == nil {
			writeError(w, http.StatusNotImplemented, "source artifacts cannot be read here")
			return
		}
		var ks kustomizev1.Kustomization
		if err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ks); err == nil {
			var cleanup func()
			if snap, cleanup, err = srv.buildOne(ctx, &ks); err == nil {
				defer cleanup()
			}
		}
	case "HelmRelease":
		var hr helmv2.HelmRelease
		if err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &hr); err == nil {
			snap, err = plan.DiscoverRelease(ctx, plan.Options{Lookup: srv.lookup, Charts: &plan.Charts{}}, &hr)
		}
	default:
		writeError(w, http.StatusBadRequest, "diff is for Kustomizations and HelmReleases")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	p, err := plan.Live(ctx, srv.opts.Client, snap, nil, "")
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	changes := []plan.Change{}
	var unitErr string
	for _, up := range p.Units {
		if up.ID() == u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName() {
			unitErr = up.Error
			for _, c := range up.Changes {
				if c.Action != plan.Unchanged {
					changes = append(changes, c)
				}
			}
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Subject < changes[j].Subject })
	writeJSON(w, map[string]any{"changes": changes, "error": unitErr, "revision": summarize(u).Revision})
}
