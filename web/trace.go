package web

import (
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/web/traceapi"
)

// WithTracer serves POST /api/v1/trace from t (web/traceapi); without it
// the route answers 503.
func WithTracer(t *diagnostics.Tracer) Option {
	return func(s *Server) {
		if t != nil {
			s.tracer = t
		}
	}
}

func (s *Server) traceRoutes() {
	(&traceapi.Handlers{Tracer: s.tracer}).Register(router{s})
}
