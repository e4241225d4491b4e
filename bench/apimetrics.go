package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// apiCounts are weir's own counters, read from its /metrics: the requests its clients sent to
// the API server (client-go's rest_client_requests_total) and the reconciles of each
// controller (controller-runtime's controller_runtime_reconcile_total).
type apiCounts struct {
	requests   float64
	reconciles float64
}

// apiCounts scrapes weir's metrics endpoint.
func (c *cluster) apiCounts(ctx context.Context) (apiCounts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.metrics+"/metrics", nil)
	if err != nil {
		return apiCounts{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiCounts{}, fmt.Errorf("scrape weir metrics: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return apiCounts{}, fmt.Errorf("parse weir metrics: %w", err)
	}
	var n apiCounts
	for _, m := range families["rest_client_requests_total"].GetMetric() {
		n.requests += m.GetCounter().GetValue()
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" && strings.EqualFold(l.GetValue(), "kustomization") {
				n.reconciles += m.GetCounter().GetValue()
			}
		}
	}
	return n, nil
}
