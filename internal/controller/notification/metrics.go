package notification

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// deliveries counts notifications by provider and result: success, failure (after the
	// retries), dropped (queue full) and duplicate (suppressed events).
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_notification_deliveries_total",
		Help: "Notifications delivered to providers, by provider and result (success, failure, dropped, duplicate).",
	}, []string{"namespace", "provider", "type", "result"})
	// retries counts delivery retries by provider.
	retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_notification_delivery_retries_total",
		Help: "Delivery attempts retried after a retryable failure, by provider.",
	}, []string{"namespace", "provider", "type"})
	// webhooks counts Receiver webhook requests by answer.
	webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_receiver_requests_total",
		Help: "Webhook requests to Receivers, by HTTP status code.",
	}, []string{"code"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(deliveries, retries, webhooks)
}
