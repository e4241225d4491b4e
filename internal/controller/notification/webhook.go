package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/go-logr/logr"
	"github.com/google/cel-go/cel"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/notify"
)

// defaultAPIVersions are the API versions of the kinds a Receiver may name without one, as
// Flux's.
var defaultAPIVersions = map[string]string{
	"Bucket": "source.toolkit.fluxcd.io/v1", "HelmChart": "source.toolkit.fluxcd.io/v1",
	"HelmRepository": "source.toolkit.fluxcd.io/v1", "GitRepository": "source.toolkit.fluxcd.io/v1",
	"OCIRepository": "source.toolkit.fluxcd.io/v1", "ImageRepository": "image.toolkit.fluxcd.io/v1",
	"ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
}

// Webhooks serves Receivers' webhook paths: it validates a request for the Receiver's type and
// requests a reconcile of the Receiver's resources (reconcile.fluxcd.io/requestedAt).
type Webhooks struct {
	// Client reads Receivers (by the webhook path index) and the resources, and patches them.
	Client client.Client
	// APIReader reads the token Secrets.
	APIReader            client.Reader
	Recorder             *event.Recorder
	NoCrossNamespaceRefs bool
	Log                  logr.Logger

	requests coalescer
	// deliveries remembers the delivery IDs handled (per Receiver), to refuse replays.
	deliveries Deduper
	// inFlight bounds the requests handled at once; beyond it, 429.
	inFlight chan struct{}
	once     sync.Once
}

const (
	// maxInFlight bounds concurrent webhook requests (each may hold a 3 MiB body).
	maxInFlight = 32
	// replayWindow is how long a delivery ID is remembered.
	replayWindow = 10 * time.Minute
)

// deliveryHeaders carry the unique ID of a delivery, per sender: a second request with the same
// ID is a replay.
var deliveryHeaders = []string{"X-GitHub-Delivery", "X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "X-Request-UUID", "Ce-Id"}

// ServeHTTP handles one webhook: 404 for an unknown path, 503 for a suspended or not ready
// Receiver, the validation's status (400, 401 …) for a request that does not pass, 413 for a
// body over 3 MiB, 200 once the resources' reconciles are requested.
func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := h.serve(w, r)
	webhooks.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (h *Webhooks) serve(w http.ResponseWriter, r *http.Request) int {
	fail := func(code int, msg string) int {
		http.Error(w, msg, code)
		return code
	}
	h.once.Do(func() {
		h.inFlight = make(chan struct{}, maxInFlight)
		h.deliveries.Interval = replayWindow
	})
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		return fail(http.StatusTooManyRequests, "too many requests")
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return fail(http.StatusMethodNotAllowed, "method not allowed")
	}
	path := r.URL.Path
	if !strings.HasPrefix(path, notificationv1.ReceiverWebhookPath) {
		return fail(http.StatusNotFound, "not found")
	}
	ctx := r.Context()
	var list notificationv1.ReceiverList
	if err := h.Client.List(ctx, &list, client.MatchingFields{WebhookPathIndex: path}); err != nil {
		h.Log.Error(err, "unable to list receivers")
		return fail(http.StatusInternalServerError, "unable to list receivers")
	}
	if len(list.Items) == 0 {
		return fail(http.StatusNotFound, "not found")
	}
	rcv := &list.Items[0]
	log := h.Log.WithValues("receiver", rcv.Namespace+"/"+rcv.Name)
	if rcv.Spec.Suspend || !apimeta.IsStatusConditionTrue(rcv.Status.Conditions, "Ready") {
		log.Info("unable to process request: receiver is suspended or not ready")
		return fail(http.StatusServiceUnavailable, "unable to process request")
	}
	body, ok := readBody(w, r)
	if !ok {
		return http.StatusRequestEntityTooLarge
	}
	spec, err := receiverSpec(ctx, h.APIReader, rcv)
	if err != nil {
		log.Error(err, "unable to read the receiver's secret")
		return fail(http.StatusInternalServerError, "unable to process request")
	}
	if isJSON(r.Header.Get("Content-Type")) && len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		// weir refuses a body that says it is JSON and is not, for every type (Flux lets some
		// types through).
		return fail(http.StatusBadRequest, "the request body is not valid JSON")
	}
	acc, err := notify.ValidateContext(ctx, spec, notify.Webhook{Header: r.Header, Body: body, Method: r.Method})
	if err != nil {
		log.Info("unable to validate payload", "error", err.Error())
		return fail(notify.RejectStatus(err), err.Error())
	}
	if id := deliveryID(r.Header); id != "" && !h.deliveries.First(string(rcv.UID)+"/"+id) {
		// Checked once the request is authentic: an unsigned request cannot burn an ID.
		return fail(http.StatusConflict, fmt.Sprintf("delivery %q was already handled: replayed request refused", id))
	}
	if acc.Unlisted {
		// An event type the Receiver does not list: refused, as Flux does.
		return fail(http.StatusBadRequest, fmt.Sprintf("the %s event %q is not authorised", rcv.Spec.Type, acc.Event))
	}
	if acc.Ignore {
		log.V(1).Info("request accepted without action", "event", acc.Event)
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	}
	if err := h.request(ctx, rcv, acc); err != nil {
		log.Error(err, "unable to request reconciliation")
		h.Recorder.Warning(rcv, "ReconciliationRequestFailed", nil, "%s", err.Error())
		return fail(http.StatusInternalServerError, "unable to request reconciliation")
	}
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// request asks every resource of rcv that passes the filters to reconcile.
func (h *Webhooks) request(ctx context.Context, rcv *notificationv1.Receiver, acc notify.Accepted) error {
	env, err := filterEnv()
	if err != nil {
		return err
	}
	var top cel.Program
	if rcv.Spec.ResourceFilter != "" {
		if top, err = compileFilter(env, rcv.Spec.ResourceFilter); err != nil {
			return err
		}
	}
	var errs []error
	for _, res := range rcv.Spec.Resources {
		var own cel.Program
		if res.Filter != "" {
			if own, err = compileFilter(env, res.Filter); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		objs, err := h.resources(ctx, rcv, res.CrossNamespaceObjectReference)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range objs {
			ok, err := accepts(objs[i], acc, top, own)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ok {
				if err := h.requests.request(ctx, h.Client, h.Log, objs[i]); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// resources are the objects ref names: one by name, or those matching its labels for '*'.
func (h *Webhooks) resources(ctx context.Context, rcv *notificationv1.Receiver, ref notificationv1.CrossNamespaceObjectReference) ([]*metav1.PartialObjectMetadata, error) {
	ns := rcv.Namespace
	if ref.Namespace != "" {
		if h.NoCrossNamespaceRefs && ref.Namespace != rcv.Namespace {
			return nil, fmt.Errorf("cross-namespace references are not allowed: %s/%s/%s", ref.Kind, ref.Namespace, ref.Name)
		}
		ns = ref.Namespace
	}
	apiVersion := ref.APIVersion
	if apiVersion == "" {
		if apiVersion = defaultAPIVersions[ref.Kind]; apiVersion == "" {
			return nil, fmt.Errorf("apiVersion must be specified for kind %q", ref.Kind)
		}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid apiVersion %q: %w", apiVersion, err)
	}
	gvk := gv.WithKind(ref.Kind)
	if ref.Name != "*" {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(gvk)
		if err := h.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, obj); err != nil {
			return nil, fmt.Errorf("unable to read %s '%s/%s': %w", ref.Kind, ns, ref.Name, err)
		}
		return []*metav1.PartialObjectMetadata{obj}, nil
	}
	if ref.MatchLabels == nil {
		return nil, errors.New("matchLabels field not set when using wildcard '*' as name")
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(gvk)
	if err := h.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels(ref.MatchLabels)); err != nil {
		return nil, fmt.Errorf("failed listing %s in namespace %q by matching labels: %w", ref.Kind, ns, err)
	}
	out := make([]*metav1.PartialObjectMetadata, 0, len(list.Items))
	for i := range list.Items {
		o := &list.Items[i]
		o.SetGroupVersionKind(gvk)
		out = append(out, o)
	}
	return out, nil
}

// accepts evaluates the filters on one resource: both must be true when set.
func accepts(obj *metav1.PartialObjectMetadata, acc notify.Accepted, filters ...cel.Program) (bool, error) {
	var vars map[string]any
	for _, prg := range filters {
		if prg == nil {
			continue
		}
		if vars == nil {
			res, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				return false, err
			}
			vars = map[string]any{"res": res, "req": acc.Body, "claims": acc.Claims}
			if acc.Body == nil {
				vars["req"] = map[string]any{}
			}
			if acc.Claims == nil {
				vars["claims"] = map[string]any{}
			}
		}
		out, _, err := prg.Eval(vars)
		if err != nil {
			return false, fmt.Errorf("failed to evaluate the filter on %s '%s/%s': %w", obj.Kind, obj.Namespace, obj.Name, err)
		}
		if b, ok := out.Value().(bool); !ok || !b {
			return false, nil
		}
	}
	return true, nil
}

// coalescer folds a burst of requests for one object into at most two patches: the one in
// flight, and one more after it for every request that arrived meanwhile.
type coalescer struct {
	mu      sync.Mutex
	pending map[string]*bool
}

// request patches obj's reconcile.fluxcd.io/requestedAt: at once when no patch of obj is under
// way (its error is the request's, as Flux answers 500), else once more after that patch, in
// the background.
func (c *coalescer) request(ctx context.Context, cl client.Client, log logr.Logger, obj *metav1.PartialObjectMetadata) error {
	key := obj.GroupVersionKind().String() + "/" + obj.Namespace + "/" + obj.Name
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[string]*bool{}
	}
	if again, busy := c.pending[key]; busy {
		*again = true
		c.mu.Unlock()
		return nil
	}
	again := new(bool)
	c.pending[key] = again
	c.mu.Unlock()
	err := annotate(ctx, cl, obj)
	target := obj.DeepCopy()
	go func() {
		ctx := context.WithoutCancel(ctx)
		for {
			c.mu.Lock()
			if !*again {
				delete(c.pending, key)
				c.mu.Unlock()
				return
			}
			*again = false
			c.mu.Unlock()
			if err := annotate(ctx, cl, target); err != nil {
				log.Error(err, "unable to annotate resource", "resource", key)
			}
		}
	}()
	return err
}

// annotate sets reconcile.fluxcd.io/requestedAt on obj to now, as Flux's receiver does.
func annotate(ctx context.Context, cl client.Client, obj *metav1.PartialObjectMetadata) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, compat.ReconcileRequestAnnotation, metav1.Now().String())
	p := &metav1.PartialObjectMetadata{}
	p.SetGroupVersionKind(obj.GroupVersionKind())
	p.SetNamespace(obj.Namespace)
	p.SetName(obj.Name)
	if err := cl.Patch(ctx, p, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		return fmt.Errorf("unable to annotate %s '%s/%s': %w", obj.Kind, obj.Namespace, obj.Name, err)
	}
	return nil
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(contentType string) bool {
	return strings.Contains(strings.ToLower(contentType), "json")
}

// receiverSpec is what validating a request for rcv needs: its type, token, events, and the
// keys of its Secret that gcr uses, or the OIDC providers of generic-oidc.
func receiverSpec(ctx context.Context, c client.Reader, rcv *notificationv1.Receiver) (notify.ReceiverSpec, error) {
	spec := notify.ReceiverSpec{Type: rcv.Spec.Type, Events: rcv.Spec.Events}
	if rcv.Spec.Type == notificationv1.GenericOIDCReceiver {
		for _, p := range rcv.Spec.OIDCProviders {
			op := notify.OIDCProvider{IssuerURL: p.IssuerURL, Audience: p.GetAudience()}
			for _, v := range p.Variables {
				op.Variables = append(op.Variables, notify.OIDCVariable{Name: v.Name, Expression: v.Expression})
			}
			for _, v := range p.Validations {
				op.Validations = append(op.Validations, notify.OIDCValidation{Expression: v.Expression, Message: v.Message})
			}
			spec.OIDCProviders = append(spec.OIDCProviders, op)
		}
		return spec, nil
	}
	data, err := receiverSecret(ctx, c, rcv)
	if err != nil {
		return spec, err
	}
	spec.Token = data["token"]
	spec.Email, spec.Audience = string(data["email"]), string(data["audience"])
	return spec, nil
}

// deliveryID is the request's delivery ID, when its sender sets one.
func deliveryID(h http.Header) string {
	for _, k := range deliveryHeaders {
		if v := h.Get(k); v != "" {
			if len(v) > 128 {
				v = v[:128]
			}
			return k + "=" + v
		}
	}
	return ""
}
