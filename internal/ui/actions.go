package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// requestedAtAnnotation asks a controller to reconcile, as flux reconcile sets it.
const requestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// allowed asks the API server whether the session's user may verb the object: a
// SelfSubjectAccessReview for a local session (the kubeconfig user), else a
// SubjectAccessReview for the signed-in user and groups.
func (srv *Server) allowed(ctx context.Context, sess *Session, verb string, k Kind, namespace, name string) (bool, error) {
	attrs := &authorizationv1.ResourceAttributes{Verb: verb, Group: k.Group, Resource: k.Resource, Namespace: namespace, Name: name}
	if sess.Local {
		r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attrs}}
		if err := srv.opts.Client.Create(ctx, r); err != nil {
			return false, err
		}
		return r.Status.Allowed, nil
	}
	r := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: attrs, User: sess.User, Groups: sess.Groups}}
	if err := srv.opts.Client.Create(ctx, r); err != nil {
		return false, err
	}
	return r.Status.Allowed, nil
}

// clientFor returns a client acting as the session's user: impersonating them, or the
// server's own configuration for a local session.
func (srv *Server) clientFor(sess *Session) (client.Client, error) {
	cfg := rest.CopyConfig(srv.opts.Config)
	if !sess.Local {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: sess.User, Groups: sess.Groups}
	}
	return client.New(cfg, client.Options{})
}

// Actions.
const (
	ActionReconcile           = "reconcile"
	ActionReconcileWithSource = "reconcile-with-source"
	ActionSuspend             = "suspend"
	ActionResume              = "resume"
)

// action reconciles, suspends or resumes an object for the signed-in user.
func (srv *Server) action(w http.ResponseWriter, r *http.Request, sess *Session) {
	var body struct {
		Kind, Namespace, Name, Action string
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	k, ok := kindByName(body.Kind)
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown kind")
		return
	}
	targets := []target{{k, body.Namespace, body.Name}}
	var patch map[string]any
	now := time.Now().Format(time.RFC3339Nano)
	reconcile := map[string]any{"metadata": map[string]any{"annotations": map[string]any{requestedAtAnnotation: now}}}
	switch body.Action {
	case ActionReconcile:
		patch = reconcile
	case ActionReconcileWithSource:
		patch = reconcile
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.GVK())
		if err := srv.opts.Reader.Get(r.Context(), client.ObjectKey{Namespace: body.Namespace, Name: body.Name}, u); err != nil {
			writeError(w, http.StatusNotFound, "object not found")
			return
		}
		if src := sourceOf(u); src != "" {
			parts := strings.SplitN(src, "/", 3)
			if sk, ok := kindByName(parts[0]); ok && len(parts) == 3 {
				targets = append([]target{{sk, parts[1], parts[2]}}, targets...)
			}
		}
	case ActionSuspend, ActionResume:
		if !k.Suspendable {
			writeError(w, http.StatusBadRequest, k.Kind+" cannot be suspended")
			return
		}
		patch = map[string]any{"spec": map[string]any{"suspend": body.Action == ActionSuspend}}
		if body.Action == ActionResume {
			patch["metadata"] = reconcile["metadata"]
		}
	default:
		writeError(w, http.StatusBadRequest, "unknown action")
		return
	}
	for _, t := range targets {
		ok, err := srv.allowed(r.Context(), sess, "patch", t.kind, t.namespace, t.name)
		if err != nil {
			writeError(w, http.StatusBadGateway, "the access review failed")
			return
		}
		if !ok {
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s may not patch %s %s/%s", sess.User, t.kind.Kind, t.namespace, t.name))
			return
		}
	}
	c, err := srv.clientFor(sess)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot act as the user")
		return
	}
	data, _ := json.Marshal(patch)
	for _, t := range targets {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(t.kind.GVK())
		u.SetNamespace(t.namespace)
		u.SetName(t.name)
		p := data
		if t.kind != k {
			p, _ = json.Marshal(reconcile)
		}
		if err := c.Patch(r.Context(), u, client.RawPatch("application/merge-patch+json", p)); err != nil {
			writeError(w, http.StatusBadGateway, fmt.Sprintf("%s %s/%s: %s", t.kind.Kind, t.namespace, t.name, errorReason(err)))
			return
		}
	}
	writeJSON(w, map[string]string{"done": body.Action})
}

type target struct {
	kind            Kind
	namespace, name string
}

// errorReason keeps an API error's message short.
func errorReason(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// can reports whether the session may act on an object (for showing the buttons).
func (srv *Server) can(ctx context.Context, sess *Session, k Kind, namespace, name string) bool {
	ok, err := srv.allowed(ctx, sess, "patch", k, namespace, name)
	return err == nil && ok
}
