package ui

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

//go:embed assets
var assets embed.FS

// Options configure a Server.
type Options struct {
	// Reader reads Flux objects: the controllers' informer cache (or weir ui's own).
	Reader client.Reader
	// Informers, when set, stream changes of the Flux kinds to browsers.
	Informers cache.Informers
	// APIReader reads events and managed objects straight from the API server.
	APIReader client.Reader
	// Client reviews tokens and access, with the server's own identity.
	Client client.Client
	// Config is the REST configuration actions start from: impersonating the signed-in user,
	// or as is for a local session.
	Config *rest.Config
	// LocalToken, when set, opens a local session (weir ui) from /?token=<LocalToken>;
	// LocalUser names it.
	LocalToken, LocalUser string
	// OIDC, when set, enables sign-in with an OpenID Connect provider.
	OIDC *OIDC
	// SecureCookies marks cookies Secure (the UI is behind TLS).
	SecureCookies bool
	// Version and Controllers describe the running weir.
	Version     string
	Controllers []string
	// Sources reads a source's artifact into a directory (for drift and trace to files).
	Sources SourceFetcher
}

// Server serves the UI.
type Server struct {
	opts     Options
	sessions *sessions
	oidc     *oidcFlow
	live     *broadcaster
	mux      *http.ServeMux
}

// New builds the server; with Informers it registers its event handlers on them.
func New(ctx context.Context, opts Options) (*Server, error) {
	ss, err := newSessions(opts.SecureCookies)
	if err != nil {
		return nil, err
	}
	srv := &Server{opts: opts, sessions: ss, live: newBroadcaster(), mux: http.NewServeMux()}
	if opts.OIDC != nil {
		if srv.oidc, err = newOIDCFlow(ctx, *opts.OIDC); err != nil {
			return nil, err
		}
	}
	if opts.Informers != nil {
		if err := srv.live.watch(ctx, opts.Informers); err != nil {
			return nil, err
		}
	}
	srv.routes()
	return srv, nil
}

func (srv *Server) routes() {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServer(http.FS(static))
	srv.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if srv.localLogin(w, r) {
			return
		}
		http.ServeFileFS(w, r, static, "index.html")
	})
	srv.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	srv.mux.HandleFunc("GET /api/session", srv.session)
	srv.mux.HandleFunc("POST /api/login", srv.tokenLogin)
	srv.mux.HandleFunc("POST /api/logout", srv.authed(func(w http.ResponseWriter, r *http.Request, _ *Session) {
		srv.sessions.end(w)
		writeJSON(w, map[string]string{})
	}))
	if srv.oidc != nil {
		srv.mux.HandleFunc("GET /auth/oidc/login", srv.oidcLogin)
		srv.mux.HandleFunc("GET /auth/oidc/callback", srv.oidcCallback)
	}
	srv.mux.HandleFunc("GET /api/overview", srv.authed(srv.overview))
	srv.mux.HandleFunc("GET /api/objects", srv.authed(srv.list))
	srv.mux.HandleFunc("GET /api/object", srv.authed(srv.object))
	srv.mux.HandleFunc("GET /api/graph", srv.authed(srv.graph))
	srv.mux.HandleFunc("GET /api/trace", srv.authed(srv.trace))
	srv.mux.HandleFunc("GET /api/owner", srv.authed(srv.owner))
	srv.mux.HandleFunc("GET /api/diff", srv.authed(srv.diff))
	srv.mux.HandleFunc("GET /api/plan", srv.authed(srv.branchPlan))
	srv.mux.HandleFunc("POST /api/action", srv.authed(srv.action))
	srv.mux.HandleFunc("GET /api/stream", srv.authed(srv.stream))
}

// ServeHTTP serves the UI with its security headers.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if srv.opts.SecureCookies {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	srv.mux.ServeHTTP(w, r)
}

// authed requires a session; state-changing requests also need its CSRF token and a
// same-origin Origin.
func (srv *Server) authed(h func(http.ResponseWriter, *http.Request, *Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := srv.sessions.read(r)
		if sess == nil {
			writeError(w, http.StatusUnauthorized, "sign in first")
			return
		}
		if r.Method != http.MethodGet {
			if !sameOrigin(r) || r.Header.Get("X-CSRF-Token") == "" || r.Header.Get("X-CSRF-Token") != sess.CSRF {
				writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
				return
			}
		}
		h(w, r, sess)
	}
}

// sameOrigin accepts a request whose Origin (when sent) is the server's own host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	_, host, ok := strings.Cut(o, "://")
	return ok && host == r.Host
}

// session reports who is signed in and how they may sign in.
func (srv *Server) session(w http.ResponseWriter, r *http.Request) {
	sess := srv.sessions.read(r)
	out := map[string]any{"signedIn": sess != nil, "oidc": srv.oidc != nil, "version": srv.opts.Version}
	if sess != nil {
		out["user"], out["csrf"], out["local"] = sess.User, sess.CSRF, sess.Local
	}
	writeJSON(w, out)
}

// listKind lists one kind from the cache.
func (srv *Server) listKind(ctx context.Context, k Kind) ([]unstructured.Unstructured, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(k.GVK().GroupVersion().WithKind(k.Kind + "List"))
	// The objects are only read: the cache's copies are not needed.
	if err := srv.opts.Reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// overview is the first page: counts, what needs attention, recent activity.
func (srv *Server) overview(w http.ResponseWriter, r *http.Request, _ *Session) {
	type count struct {
		Kind     string         `json:"kind"`
		Category string         `json:"category"`
		Total    int            `json:"total"`
		States   map[string]int `json:"states"`
	}
	counts := []count{}
	attention := []Summary{}
	for _, k := range Kinds {
		items, err := srv.listKind(r.Context(), k)
		if err != nil {
			continue // a kind not served by this cluster
		}
		c := count{Kind: k.Kind, Category: k.Category, Total: len(items), States: map[string]int{}}
		for i := range items {
			s := summarize(&items[i])
			c.States[s.State]++
			if s.State == StateFailing {
				attention = append(attention, s)
			}
		}
		counts = append(counts, c)
	}
	sort.SliceStable(attention, func(i, j int) bool {
		if attention[i].Stalled != attention[j].Stalled {
			return attention[i].Stalled
		}
		return attention[i].ID() < attention[j].ID()
	})
	events, _ := srv.events(r.Context(), "", "", "", 50)
	if events == nil {
		events = []Event{}
	}
	writeJSON(w, map[string]any{"version": srv.opts.Version, "controllers": srv.opts.Controllers,
		"counts": counts, "attention": attention, "events": events})
}

// list returns every object of a kind.
func (srv *Server) list(w http.ResponseWriter, r *http.Request, _ *Session) {
	k, ok := kindByName(r.URL.Query().Get("kind"))
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown kind")
		return
	}
	items, err := srv.listKind(r.Context(), k)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]Summary, 0, len(items))
	for i := range items {
		out = append(out, summarize(&items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	writeJSON(w, map[string]any{"kind": k, "items": out})
}

// Event is a Kubernetes event as the UI shows it.
type Event struct {
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Object  string    `json:"object"`
	Time    time.Time `json:"time"`
}

// events reads recent events, of one object when kind and name are set.
func (srv *Server) events(ctx context.Context, kind, namespace, name string, limit int) ([]Event, error) {
	var l corev1.EventList
	opts := []client.ListOption{}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if kind != "" {
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.SelectorFromSet(fields.Set{
			"involvedObject.kind": kind, "involvedObject.name": name})})
	} else {
		opts = append(opts, client.Limit(2000))
	}
	if err := srv.opts.APIReader.List(ctx, &l, opts...); err != nil {
		return nil, err
	}
	var out []Event
	for _, e := range l.Items {
		if kind == "" {
			if _, flux := kindByName(e.InvolvedObject.Kind); !flux {
				continue
			}
		}
		t := e.LastTimestamp.Time
		if t.IsZero() {
			t = e.EventTime.Time
		}
		if t.IsZero() {
			t = e.CreationTimestamp.Time
		}
		out = append(out, Event{Type: e.Type, Reason: e.Reason, Message: e.Message, Time: t,
			Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Namespace + "/" + e.InvolvedObject.Name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// object returns one object's detail.
func (srv *Server) object(w http.ResponseWriter, r *http.Request, sess *Session) {
	q := r.URL.Query()
	k, ok := kindByName(q.Get("kind"))
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown kind")
		return
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.GVK())
	if err := srv.opts.Reader.Get(r.Context(), client.ObjectKey{Namespace: q.Get("namespace"), Name: q.Get("name")}, u); err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s/%s not found", k.Kind, q.Get("namespace"), q.Get("name")))
		return
	}
	shown := u.DeepCopy()
	unstructured.RemoveNestedField(shown.Object, "metadata", "managedFields")
	doc, _ := yaml.Marshal(shown.Object)
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	history, _, _ := unstructured.NestedSlice(u.Object, "status", "history")
	inv, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	specDoc, _ := yaml.Marshal(spec)
	events, _ := srv.events(r.Context(), k.Kind, u.GetNamespace(), u.GetName(), 100)
	writeJSON(w, map[string]any{"summary": summarize(u), "kindInfo": k, "conditions": conds, "history": history,
		"inventory": inventoryIDs(inv), "events": events, "spec": string(specDoc), "yaml": string(doc),
		"lastAttemptedRevision":  nestedString(u, "status", "lastAttemptedRevision"),
		"lastHandledReconcileAt": nestedString(u, "status", "lastHandledReconcileAt"),
		"canAct":                 srv.can(r.Context(), sess, k, u.GetNamespace(), u.GetName())})
}

func nestedString(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}

// inventoryIDs reads inventory entries ({id, v}) as Kind/namespace/name with their group.
func inventoryIDs(entries []any) []map[string]string {
	var out []map[string]string
	for _, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["id"].(string)
		v, _ := m["v"].(string)
		parts := strings.Split(id, "_")
		if len(parts) != 4 {
			continue
		}
		out = append(out, map[string]string{"namespace": parts[0], "name": parts[1], "group": parts[2], "kind": parts[3], "version": v})
	}
	return out
}

// graph returns the dependsOn graph of Kustomizations and HelmReleases with their states.
func (srv *Server) graph(w http.ResponseWriter, r *http.Request, _ *Session) {
	nodes := []Summary{}
	for _, name := range []string{"Kustomization", "HelmRelease"} {
		k, _ := kindByName(name)
		items, err := srv.listKind(r.Context(), k)
		if err != nil {
			continue
		}
		for i := range items {
			nodes = append(nodes, summarize(&items[i]))
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID() < nodes[j].ID() })
	writeJSON(w, map[string]any{"nodes": nodes})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
