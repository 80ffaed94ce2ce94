package web

import (
	"net/http"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
	"github.com/satellite-sdn/satellite/web/metricsapi"
)

// WithCollector serves the statistics routes (web/metricsapi) from c,
// and the stream's metrics and flows topics; without it the routes
// answer 503.
func WithCollector(c *collector.Collector) Option { return func(s *Server) { s.coll = c } }

func (s *Server) metricsRoutes() {
	h := &metricsapi.Handlers{Switch: s.switchID}
	if s.coll != nil {
		h.Collector = s.coll
	}
	h.Register(router{s})
}

func (s *Server) collector() (*collector.Collector, error) {
	if s.coll == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "statistics collection is not enabled on this server")
	}
	return s.coll, nil
}
