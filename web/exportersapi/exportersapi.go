// Package exportersapi serves the exporters' health (exporters/):
//
//	GET /api/v1/exporters   every push exporter's health and counters (InfluxDB, Fluentd), and /metrics
package exportersapi

import (
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Handlers serve the exporters route.
type Handlers struct {
	// Statuses lists the push exporters' health, or is nil (none).
	Statuses func() []exporters.Status
	// Metrics says whether /metrics (Prometheus) is served.
	Metrics bool
	// Series counts the series /metrics holds, or is nil.
	Series func() int
}

// Register adds the route to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/exporters", h.get)
}

func (h *Handlers) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	out := api.ExportersStatus{Exporters: []exporters.Status{}}
	if h.Statuses != nil {
		out.Exporters = h.Statuses()
	}
	if h.Metrics {
		out.Metrics = &api.MetricsStatus{Path: "/metrics"}
		if h.Series != nil {
			out.Metrics.Series = h.Series()
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
