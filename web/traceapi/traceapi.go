// Package traceapi serves the packet trace (diagnostics/):
//
//	POST /api/v1/trace   {"from": "a1", "to": "10.1.0.12", "proto": "icmp"}: why can't A reach B?
package traceapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Tracer is what the route needs of the tracer (*diagnostics.Tracer).
type Tracer interface {
	Trace(ctx context.Context, req diagnostics.Request) (*diagnostics.Result, error)
}

// Handlers serve the trace route.
type Handlers struct {
	// Tracer traces, or is nil: the route answers 503.
	Tracer Tracer
}

const example = `{"from": "a1", "to": "10.1.0.12", "proto": "icmp"}`

// Register adds the route to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("POST "+api.TracePath, h.postTrace)
}

func (h *Handlers) postTrace(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	if h.Tracer == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "packet tracing is not enabled on this server")
	}
	var req diagnostics.Request
	if err := httpapi.DecodeBody(r, &req, example); err != nil {
		return err
	}
	res, err := h.Tracer.Trace(r.Context(), req)
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
