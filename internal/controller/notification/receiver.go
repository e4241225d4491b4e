package notification

import (
	"context"
	"errors"
	"fmt"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
)

// ControllerName is the reporting controller of notification events, Flux's name for it.
const ControllerName = "notification-controller"

const (
	// WebhookPathIndex indexes Receivers by status.webhookPath, for the webhook server.
	WebhookPathIndex = ".status.webhookPath"
	secretRefIndex   = ".spec.secretRef"
)

// ReceiverReconciler reconciles notification.toolkit.fluxcd.io/v1 Receivers: it checks the
// token Secret and the CEL filters and publishes the webhook path in the status.
type ReceiverReconciler struct {
	client.Client
	// APIReader reads Secrets from the API server.
	APIReader client.Reader
	Recorder  *event.Recorder
	Retry     *reconcile.Retry
}

// SetupWithManager registers the reconciler and the indexes the webhook server uses.
func (r *ReceiverReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, concurrent int) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &notificationv1.Receiver{}, WebhookPathIndex, func(o client.Object) []string {
		if p := o.(*notificationv1.Receiver).Status.WebhookPath; p != "" {
			return []string{p}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index %s: %w", WebhookPathIndex, err)
	}
	if err := idx.IndexField(ctx, &notificationv1.Receiver{}, secretRefIndex, func(o client.Object) []string {
		if ref := o.(*notificationv1.Receiver).Spec.SecretRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index %s: %w", secretRefIndex, err)
	}
	bySecret := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var list notificationv1.ReceiverList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretRefIndex: o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]ctrl.Request, 0, len(list.Items))
		for _, rcv := range list.Items {
			reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: rcv.Namespace, Name: rcv.Name}})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("receiver").
		For(&notificationv1.Receiver{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		Watches(&corev1.Secret{}, bySecret, builder.OnlyMetadata, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrent}).
		Complete(&reconcile.Skeleton[*notificationv1.Receiver, receiverOutcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: notificationv1.GroupVersion, Kind: notificationv1.ReceiverKind,
			New: func() *notificationv1.Receiver { return &notificationv1.Receiver{} }, Steps: r,
		})
}

// receiverOutcome is what one reconcile of a Receiver found.
type receiverOutcome struct {
	err  error
	path string
}

// Err returns the failure, nil on success.
func (o receiverOutcome) Err() error { return o.err }

// Fields returns the Receiver's fields the skeleton reads and writes.
func (r *ReceiverReconciler) Fields(obj *notificationv1.Receiver) reconcile.Fields {
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.GetInterval(), RetryInterval: reconcile.BackoffOnly,
	}
}

// Run checks the token and the filters and computes the webhook path.
func (r *ReceiverReconciler) Run(ctx context.Context, obj *notificationv1.Receiver, _ func(string)) receiverOutcome {
	if err := checkOIDC(obj); err != nil {
		return receiverOutcome{err: reconcile.Stalled(notificationv1.ValidationFailedReason, err)}
	}
	if err := checkFilters(obj); err != nil {
		return receiverOutcome{err: reconcile.Stalled(compat.InvalidCELExpressionReason, err)}
	}
	token, err := receiverToken(ctx, r.APIReader, obj)
	if err != nil {
		return receiverOutcome{err: reconcile.Failed(notificationv1.TokenNotFoundReason, err)}
	}
	return receiverOutcome{path: obj.GetWebhookPath(token)}
}

// receiverToken reads the Receiver's token; generic-oidc has none.
func receiverToken(ctx context.Context, c client.Reader, obj *notificationv1.Receiver) (string, error) {
	if obj.Spec.Type == notificationv1.GenericOIDCReceiver {
		return "", nil
	}
	data, err := receiverSecret(ctx, c, obj)
	if err != nil {
		return "", err
	}
	return string(data["token"]), nil
}

// receiverSecret reads the Receiver's Secret, which must have a token.
func receiverSecret(ctx context.Context, c client.Reader, obj *notificationv1.Receiver) (map[string][]byte, error) {
	if obj.Spec.SecretRef == nil || obj.Spec.SecretRef.Name == "" {
		return nil, errors.New("spec.secretRef is required for receiver type '" + obj.Spec.Type + "'")
	}
	var s corev1.Secret
	key := client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.SecretRef.Name}
	if err := c.Get(ctx, key, &s); err != nil {
		return nil, fmt.Errorf("unable to read token from secret '%s' error: %w", key, err)
	}
	if t, ok := s.Data["token"]; !ok || len(t) == 0 {
		return nil, fmt.Errorf("invalid '%s' secret data: required field 'token'", key)
	}
	return s.Data, nil
}

// Summarize writes Ready and status.webhookPath.
func (r *ReceiverReconciler) Summarize(obj *notificationv1.Receiver, out receiverOutcome, _ time.Duration) {
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if out.err != nil {
		// No valid path while the token or the spec is wrong: requests get 404, as Flux's.
		obj.Status.WebhookPath = ""
		conds.NotReady(reconcile.Reason(out.err, compat.FailedReason), out.err.Error(), reconcile.IsStalled(out.err))
		return
	}
	obj.Status.WebhookPath = out.path
	conds.Ready(compat.SucceededReason, "Receiver initialized for path: "+out.path)
}

// Report records nothing on success: a Receiver has nothing new to say.
func (r *ReceiverReconciler) Report(*notificationv1.Receiver, receiverOutcome, time.Duration) {}

// EventMetadata has nothing to add.
func (r *ReceiverReconciler) EventMetadata(*notificationv1.Receiver, receiverOutcome) map[string]string {
	return nil
}

// Requeue keeps the skeleton's decision.
func (r *ReceiverReconciler) Requeue(_ *notificationv1.Receiver, _ receiverOutcome, res ctrl.Result) ctrl.Result {
	return res
}

// Finalize has nothing to clean up.
func (r *ReceiverReconciler) Finalize(context.Context, *notificationv1.Receiver) error { return nil }

// Forget has nothing to drop.
func (r *ReceiverReconciler) Forget(types.NamespacedName) {}

// filterEnv is the CEL environment of resourceFilter and the resources' filter: the resource
// ('res'), the request body ('req') and, for generic-oidc, the token's claims ('claims').
func filterEnv() (*cel.Env, error) {
	return cel.NewEnv(ext.Strings(), ext.Lists(), cel.OptionalTypes(),
		cel.Variable("res", cel.DynType), cel.Variable("req", cel.DynType), cel.Variable("claims", cel.DynType))
}

// compileFilter compiles a filter expression that must yield a bool.
func compileFilter(env *cel.Env, src string) (cel.Program, error) {
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("failed to parse expression %q: %w", src, iss.Err())
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("expression %q returns %s, not a bool", src, t)
	}
	return env.Program(ast, cel.CostLimit(1_000_000))
}

// checkFilters compiles the Receiver's CEL expressions.
func checkFilters(obj *notificationv1.Receiver) error {
	env, err := filterEnv()
	if err != nil {
		return err
	}
	if obj.Spec.ResourceFilter != "" {
		if _, err := compileFilter(env, obj.Spec.ResourceFilter); err != nil {
			return fmt.Errorf("invalid resourceFilter: %w", err)
		}
	}
	for i, res := range obj.Spec.Resources {
		if res.Filter != "" {
			if _, err := compileFilter(env, res.Filter); err != nil {
				return fmt.Errorf("invalid resources[%d].filter: %w", i, err)
			}
		}
	}
	return nil
}

// checkOIDC checks a generic-oidc Receiver's providers: no secretRef, at least one provider,
// each with an issuer and at least one validation (a valid signature alone authorises no
// one: public issuers sign tokens for anybody). Other types may not have oidcProviders.
func checkOIDC(obj *notificationv1.Receiver) error {
	if obj.Spec.Type != notificationv1.GenericOIDCReceiver {
		if len(obj.Spec.OIDCProviders) > 0 {
			return fmt.Errorf("oidcProviders is only allowed for the '%s' receiver type", notificationv1.GenericOIDCReceiver)
		}
		return nil
	}
	if obj.Spec.SecretRef != nil {
		return fmt.Errorf("secretRef is not allowed for the '%s' receiver type", notificationv1.GenericOIDCReceiver)
	}
	if len(obj.Spec.OIDCProviders) == 0 {
		return fmt.Errorf("at least one entry in oidcProviders is required for the '%s' receiver type", notificationv1.GenericOIDCReceiver)
	}
	for i, p := range obj.Spec.OIDCProviders {
		if p.IssuerURL == "" {
			return fmt.Errorf("oidcProviders[%d].issuerURL is required", i)
		}
		if len(p.Validations) == 0 {
			return fmt.Errorf("oidcProviders[%d] (%s) needs at least one validation", i, p.IssuerURL)
		}
	}
	return nil
}
