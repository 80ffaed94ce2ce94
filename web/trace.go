package web

import (
	"errors"
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/diagnostics"
)

// WithTracer serves POST /api/v1/trace from t; without it the route
// answers 503.
func WithTracer(t *diagnostics.Tracer) Option { return func(s *Server) { s.tracer = t } }

const traceExample = `{"from": "a1", "to": "10.1.0.12", "proto": "icmp"}`

func (s *Server) traceRoutes() {
	s.handle("POST "+api.TracePath, s.postTrace)
}

func (s *Server) postTrace(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	if s.tracer == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "packet tracing is not enabled on this server")
	}
	var req diagnostics.Request
	if err := decodeBody(r, &req, traceExample); err != nil {
		return err
	}
	res, err := s.tracer.Trace(r.Context(), req)
	if err != nil {
		var re *diagnostics.RequestError
		if errors.As(err, &re) {
			return httpapi.Errorf(re.Status, re.Field, "%s", re.Msg)
		}
		return httpapi.Errorf(http.StatusBadGateway, "", "trace: %v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}
