// Package auditapi serves the flow audit (audit/, docs/audit.md):
//
//	GET  /api/v1/audit[?fresh=true]          every switch's last audit and the networks' analysis
//	GET  /api/v1/audit/{dpid}[?fresh=true]   one switch (a datapath id or name)
//	POST /api/v1/audit/fix                   the reconciler converges every switch now (operator)
package auditapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/audit"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Auditor is what the routes need of the audit (*audit.Engine).
type Auditor interface {
	Overview() audit.Overview
	AuditAll(ctx context.Context) audit.Overview
	Report(dpid uint64) (audit.Report, bool)
	Audit(ctx context.Context, dpid uint64) (audit.Report, error)
	Fix(ctx context.Context) (audit.Overview, error)
}

// Handlers serve the audit routes.
type Handlers struct {
	// Audit is the audit, or nil: the routes answer 503.
	Audit Auditor
	// Switch reads the {dpid} path value (a datapath id or a switch's
	// name), answering a 400 error for one that names no switch.
	Switch func(r *http.Request) (uint64, error)
}

// Register adds the routes to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET "+api.AuditPath, h.getAudit)
	r.Handle("GET "+api.AuditPath+"/{dpid}", h.getSwitchAudit)
	r.Handle("POST "+api.AuditPath+"/fix", h.postFix)
}

func (h *Handlers) engine() (Auditor, error) {
	if h.Audit == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "the flow audit is not enabled on this server")
	}
	return h.Audit, nil
}

// freshParam reads ?fresh=true|false (default false: the last audit).
func freshParam(r *http.Request) (bool, error) {
	q, err := httpapi.Query(r, "fresh")
	if err != nil {
		return false, err
	}
	switch v := q.Get("fresh"); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, httpapi.Errorf(http.StatusBadRequest, "fresh", "fresh=%q: want true (read the switches now) or false (the last audit)", v)
	}
}

func (h *Handlers) getAudit(w http.ResponseWriter, r *http.Request) error {
	fresh, err := freshParam(r)
	if err != nil {
		return err
	}
	e, err := h.engine()
	if err != nil {
		return err
	}
	if fresh {
		httpapi.WriteJSON(w, http.StatusOK, e.AuditAll(r.Context()))
		return nil
	}
	httpapi.WriteJSON(w, http.StatusOK, e.Overview())
	return nil
}

func (h *Handlers) getSwitchAudit(w http.ResponseWriter, r *http.Request) error {
	fresh, err := freshParam(r)
	if err != nil {
		return err
	}
	dpid, err := h.Switch(r)
	if err != nil {
		return err
	}
	e, err := h.engine()
	if err != nil {
		return err
	}
	if !fresh {
		if rep, ok := e.Report(dpid); ok {
			httpapi.WriteJSON(w, http.StatusOK, rep)
			return nil
		}
	}
	rep, err := e.Audit(r.Context(), dpid)
	if errors.Is(err, audit.ErrUnknownSwitch) {
		return httpapi.Errorf(http.StatusNotFound, "dpid", "%v", err)
	}
	if err != nil {
		return httpapi.Errorf(http.StatusBadGateway, "", "audit: %v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
	return nil
}

func (h *Handlers) postFix(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	e, err := h.engine()
	if err != nil {
		return err
	}
	o, err := e.Fix(r.Context())
	if err != nil {
		return httpapi.Errorf(http.StatusBadGateway, "", "the reconciler could not converge every switch: %v (the audit below is after the attempt; see satellite vnet status)", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, o)
	return nil
}
