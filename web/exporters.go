package web

import (
	"net/http"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web/exportersapi"
)

// exportersState is what the exporter routes serve.
type exportersState struct {
	set     *exporters.Set
	metrics http.Handler
	series  func() int // series /metrics holds, or nil
}

// WithExporters serves GET /api/v1/exporters (web/exportersapi) from set: the health and
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
	h := &exportersapi.Handlers{Metrics: s.exp.metrics != nil, Series: s.exp.series}
	if s.exp.set != nil {
		h.Statuses = s.exp.set.Statuses
	}
	h.Register(router{s})
}
