package web

import (
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/internal/auth"
)

// exportersState is what the exporter routes serve.
type exportersState struct {
	set     *exporters.Set
	metrics http.Handler
	series  func() int // series /metrics holds, or nil
}

// WithExporters serves GET /api/v1/exporters from set: the health and
// counters of every push exporter (InfluxDB, Fluentd).
func WithExporters(set *exporters.Set) Option { return func(s *Server) { s.exp.set = set } }

// WithMetrics serves GET /metrics (Prometheus) with h; series, when not
// nil, says how many series it holds, for /api/v1/exporters.
func WithMetrics(h http.Handler, series func() int) Option {
	return func(s *Server) { s.exp.metrics, s.exp.series = h, series }
}

func (s *Server) exporterRoutes() {
	if s.exp.metrics != nil {
		s.handleRaw("GET /metrics", auth.RoleViewer, s.exp.metrics)
	}
	s.handle("GET /api/v1/exporters", s.getExporters)
}

func (s *Server) getExporters(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	out := api.ExportersStatus{Exporters: []exporters.Status{}}
	if s.exp.set != nil {
		out.Exporters = s.exp.set.Statuses()
	}
	if s.exp.metrics != nil {
		out.Metrics = &api.MetricsStatus{Path: "/metrics"}
		if s.exp.series != nil {
			out.Metrics.Series = s.exp.series()
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
