package web

// The flow audit (audit/, docs/audit.md):
//
//	GET  /api/v1/audit[?fresh=true]          every switch's last audit and the networks' analysis
//	GET  /api/v1/audit/{dpid}[?fresh=true]   one switch (a datapath id or name)
//	POST /api/v1/audit/fix                   the reconciler converges every switch now (operator)

import (
	"errors"
	"github.com/satellite-sdn/satellite/api"
	"net/http"

	"github.com/satellite-sdn/satellite/audit"
)

// WithAudit serves the flow audit from e; without it the routes answer 503.
func WithAudit(e *audit.Engine) Option { return func(s *Server) { s.flowAudit = e } }

func (s *Server) auditRoutes() {
	s.handle("GET "+api.AuditPath, s.getAudit)
	s.handle("GET "+api.AuditPath+"/{dpid}", s.getSwitchAudit)
	s.handle("POST "+api.AuditPath+"/fix", s.postAuditFix)
}

func (s *Server) auditEngine() (*audit.Engine, error) {
	if s.flowAudit == nil {
		return nil, errorf(http.StatusServiceUnavailable, "", "the flow audit is not enabled on this server")
	}
	return s.flowAudit, nil
}

// freshParam reads ?fresh=true|false (default false: the last audit).
func freshParam(r *http.Request) (bool, error) {
	q, err := query(r, "fresh")
	if err != nil {
		return false, err
	}
	switch v := q.Get("fresh"); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, errorf(http.StatusBadRequest, "fresh", "fresh=%q: want true (read the switches now) or false (the last audit)", v)
	}
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	fresh, err := freshParam(r)
	if err != nil {
		return err
	}
	e, err := s.auditEngine()
	if err != nil {
		return err
	}
	if fresh {
		writeJSON(w, http.StatusOK, e.AuditAll(r.Context()))
		return nil
	}
	writeJSON(w, http.StatusOK, e.Overview())
	return nil
}

func (s *Server) getSwitchAudit(w http.ResponseWriter, r *http.Request) error {
	fresh, err := freshParam(r)
	if err != nil {
		return err
	}
	dpid, err := s.parseDPIDParam(r)
	if err != nil {
		return err
	}
	e, err := s.auditEngine()
	if err != nil {
		return err
	}
	if !fresh {
		if rep, ok := e.Report(dpid); ok {
			writeJSON(w, http.StatusOK, rep)
			return nil
		}
	}
	rep, err := e.Audit(r.Context(), dpid)
	if errors.Is(err, audit.ErrUnknownSwitch) {
		return errorf(http.StatusNotFound, "dpid", "%v", err)
	}
	if err != nil {
		return errorf(http.StatusBadGateway, "", "audit: %v", err)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) postAuditFix(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	e, err := s.auditEngine()
	if err != nil {
		return err
	}
	o, err := e.Fix(r.Context())
	if err != nil {
		return errorf(http.StatusBadGateway, "", "the reconciler could not converge every switch: %v (the audit below is after the attempt; see satellite vnet status)", err)
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}
